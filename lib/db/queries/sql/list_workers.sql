select worker_id, flows, status, started_at, last_heartbeat_at from pgflow.workers order by started_at

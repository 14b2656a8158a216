-- A worker's heartbeat: registers it, or updates its flows, status and last heartbeat.
insert into pgflow.workers (worker_id, flows, status, started_at, last_heartbeat_at, stopped_at)
values ($1, $2::text[], $3, now(), now(), case when $3 = 'stopped' then now() end)
on conflict (worker_id) do update
  set flows = excluded.flows, status = excluded.status, last_heartbeat_at = now(),
      stopped_at = excluded.stopped_at

-- A worker's heartbeat: registers it, or updates its flows, status and last heartbeat,
-- and (with $4, the lease in seconds) renews the leases of all its running tasks in the
-- same statement, returning the attempts it still holds.
with heartbeat as (
  insert into pgflow.workers (worker_id, flows, status, started_at, last_heartbeat_at, stopped_at)
  values ($1, $2::text[], $3, now(), now(), case when $3 = 'stopped' then now() end)
  on conflict (worker_id) do update
    set flows = excluded.flows, status = excluded.status, last_heartbeat_at = now(),
        stopped_at = excluded.stopped_at
), renewed as (
  update pgflow.step_tasks t
     set lease_expires_at = now() + make_interval(secs => $4::int)
   where $4::int is not null and t.status = 'started' and t.claimed_by = $1
  returning t.run_id, t.step_slug, t.task_index, t.attempts_count
)
select run_id, step_slug, task_index, attempts_count as attempt from renewed

-- A worker's heartbeat: registers it, or updates its flows, status and last heartbeat,
-- and (with $4, the lease in seconds) renews the leases of all its running tasks in the
-- same statement, returning the attempts it still holds.
-- Rows locked right now are passed over (SKIP LOCKED): a completion holding one is about
-- to finish it, and waiting would take the task row locks in another order than
-- complete_tasks does (deadlocks). They still count as held (they are in `mine`, read
-- without locks); their lease is renewed by the next heartbeat.
with heartbeat as (
  insert into pgflow.workers (worker_id, flows, status, started_at, last_heartbeat_at, stopped_at)
  values ($1, $2::text[], $3, now(), now(), case when $3 = 'stopped' then now() end)
  on conflict (worker_id) do update
    set flows = excluded.flows, status = excluded.status, last_heartbeat_at = now(),
        stopped_at = excluded.stopped_at
), mine as (
  select t.run_id, t.step_slug, t.task_index, t.attempts_count
    from pgflow.step_tasks t
   where $4::int is not null and t.status = 'started' and t.claimed_by = $1
), renewed as (
  update pgflow.step_tasks t
     set lease_expires_at = now() + make_interval(secs => $4::int)
   where t.ctid = any(array(
           select q.ctid from pgflow.step_tasks q
            where $4::int is not null and q.status = 'started' and q.claimed_by = $1
              for update skip locked))
     and t.status = 'started' and t.claimed_by = $1
)
select run_id, step_slug, task_index, attempts_count as attempt from mine

-- A handler's ctx.progress($5) for attempt $4 of task ($1, $2, $3): stores it, extends
-- the lease by $6 s and tells watchRun. Nothing (no row) when the attempt is stale.
with task as (
  update pgflow.step_tasks t
     set progress = $5::jsonb, lease_expires_at = now() + make_interval(secs => $6::int)
   where t.run_id = $1 and t.step_slug = $2 and t.task_index = $3 and t.attempts_count = $4
     and t.status = 'started'
  returning t.run_id
)
select pg_notify('pgflow_runs', run_id::text || ':progress') from task

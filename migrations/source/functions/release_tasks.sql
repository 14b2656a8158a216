-- Gives back tasks a stopping worker claimed but will not finish: they are queued
-- again at once and the interrupted attempt is not counted.
-- p_tasks: JSON array of {run_id, step_slug, task_index, attempt}.
create or replace function pgflow.release_tasks(p_worker_id text, p_tasks jsonb)
returns int
language plpgsql
as $$
declare
  v_flows text[];
begin
  with res as (
    select (x->>'run_id')::uuid as run_id, x->>'step_slug' as step_slug,
           (x->>'task_index')::int as task_index, (x->>'attempt')::int as attempt
      from jsonb_array_elements(p_tasks) x
  ), released as (
    update pgflow.step_tasks t
       set status = 'queued', attempts_count = t.attempts_count - 1, claimed_by = null,
           lease_expires_at = null, started_at = null, visible_at = now()
      from res
     where t.run_id = res.run_id and t.step_slug = res.step_slug and t.task_index = res.task_index
       and t.status = 'started' and t.claimed_by = p_worker_id and t.attempts_count = res.attempt
    returning t.flow_slug
  )
  select array_agg(released.flow_slug) into v_flows from released;

  perform pg_notify('pgflow_tasks', f) from (select distinct f from unnest(v_flows) f) d;
  return coalesce(cardinality(v_flows), 0);
end;
$$;

-- Queues the compensations of a compensating run that may run now: a task's
-- compensation waits until no step that depends on its step, transitively, has a
-- compensation pending or running (reverse dependency order; independent branches run
-- in parallel). Each runs as a task with the step's maxAttempts and baseDelay, counted
-- afresh (attempts_base). When none is left the run ends as it was going to: 'failed'
-- or 'cancelled', and a child run settles its parent's task. Callers hold the run's row lock.
create or replace function pgflow.schedule_compensations(p_run_id uuid)
returns void
language plpgsql
as $$
declare
  v_flows text[];
  v_run pgflow.runs;
begin
  with recursive reach(step_slug, dependent) as (
    select d.dep_slug, d.step_slug
      from pgflow.deps d join pgflow.runs r on r.flow_slug = d.flow_slug
     where r.run_id = p_run_id
    union
    select d.dep_slug, x.dependent
      from reach x join pgflow.deps d on d.step_slug = x.step_slug
      join pgflow.runs r on r.flow_slug = d.flow_slug
     where r.run_id = p_run_id
  ), blocked as (
    select distinct x.step_slug
      from reach x
     where exists (select 1 from pgflow.step_tasks o
                    where o.run_id = p_run_id and o.step_slug = x.dependent
                      and o.compensation in ('pending', 'running'))
  ), queued as (
    update pgflow.step_tasks t
       set status = 'queued', compensation = 'running', attempts_base = t.attempts_count, visible_at = now(),
           claimed_by = null, lease_expires_at = null, started_at = null, error_message = null
     where t.run_id = p_run_id and t.compensation = 'pending'
       and t.step_slug not in (select b.step_slug from blocked b)
    returning t.flow_slug
  )
  select array_agg(distinct queued.flow_slug) into v_flows from queued;
  perform pg_notify('pgflow_tasks', f) from unnest(v_flows) f;

  if not exists (select 1 from pgflow.step_tasks o
                  where o.run_id = p_run_id and o.compensation in ('pending', 'running')) then
    update pgflow.runs
       set status = compensation_reason
     where run_id = p_run_id and status = 'compensating'
    returning * into v_run;
    if v_run.run_id is not null then
      perform pgflow.notify_run(p_run_id, v_run.status);
      perform pgflow.settle_parents(array[p_run_id]);
    end if;
  end if;
end;
$$;

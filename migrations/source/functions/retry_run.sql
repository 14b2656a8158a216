-- Resumes a failed or cancelled run. Completed steps and completed map elements
-- keep their outputs and never run again; failed and cancelled tasks are queued
-- with a fresh attempt budget (attempts_base); steps that never started wait for
-- their dependencies again (a wait that timed out waits again, with a fresh
-- signalTimeout), and a runTimeout counts afresh from the resume. A subflow task whose
-- child run exists waits for that child again, which is resumed (recursively) instead
-- of a new one being started; a child that completed meanwhile completes its task.
-- A run whose compensation failed ('compensation_failed') finishes its compensations
-- instead: those that failed or were stopped are queued with fresh attempts.
create or replace function pgflow.retry_run(p_run_id uuid)
returns pgflow.runs
language plpgsql
as $$
declare
  v_run pgflow.runs;
  v_child record;
begin
  select * into v_run from pgflow.runs where run_id = p_run_id for no key update;
  if not found then
    raise exception 'unknown run %', p_run_id using errcode = 'PGF03';
  end if;
  if v_run.status not in ('failed', 'cancelled', 'compensation_failed') then
    raise exception 'run % is %: only failed or cancelled runs can be retried', p_run_id, v_run.status
      using errcode = 'PGF05', detail = v_run.status;
  end if;

  if v_run.status = 'compensation_failed' then
    update pgflow.step_tasks t
       set status = 'queued', attempts_base = t.attempts_count, visible_at = now(), claimed_by = null,
           lease_expires_at = null, started_at = null, failed_at = null
     where t.run_id = p_run_id and t.compensation = 'running' and t.status in ('failed', 'cancelled');
    update pgflow.runs set status = 'compensating', error = error->'cause' where run_id = p_run_id;
    perform pg_notify('pgflow_control', p_run_id::text || ':started');
    perform pg_notify('pgflow_runs', p_run_id::text || ':compensating');
    perform pgflow.schedule_compensations(p_run_id);
    perform pg_notify('pgflow_tasks', v_run.flow_slug);
    select * into v_run from pgflow.runs where run_id = p_run_id;
    return v_run;
  end if;

  -- only tasks of steps that are themselves failed or cancelled: a step skipped by
  -- whenExhausted keeps its failed/cancelled tasks, and re-queueing them would run the
  -- skipped step again and count its completion a second time
  with task as (
    select t.step_slug, t.task_index, exists (select 1 from pgflow.runs k
                            where k.parent_run_id = t.run_id and k.parent_step_slug = t.step_slug
                              and k.parent_task_index = t.task_index) as has_child
      from pgflow.step_tasks t
      join pgflow.step_states ss on ss.run_id = t.run_id and ss.step_slug = t.step_slug
     where t.run_id = p_run_id and t.status in ('failed', 'cancelled') and ss.status in ('failed', 'cancelled')
  )
  update pgflow.step_tasks t
     set status = case when task.has_child then 'waiting' else 'queued' end,
         attempts_base = t.attempts_count, visible_at = now(), claimed_by = null,
         lease_expires_at = null, started_at = case when task.has_child then t.started_at end, failed_at = null
    from task
   where t.run_id = p_run_id and t.step_slug = task.step_slug and t.task_index = task.task_index;

  -- steps that had tasks resume them
  update pgflow.step_states ss
     set status = 'started', failed_at = null, error_message = null,
         remaining_tasks = (select count(*) from pgflow.step_tasks t
                             where t.run_id = ss.run_id and t.step_slug = ss.step_slug
                               and t.status <> 'completed')
   where ss.run_id = p_run_id and ss.status in ('failed', 'cancelled') and coalesce(ss.total_tasks, 0) > 0;

  -- steps that never started wait for their dependencies again
  update pgflow.step_states ss
     set status = 'created', failed_at = null, error_message = null, total_tasks = null,
         remaining_tasks = null,
         remaining_deps = (select count(*) from pgflow.deps d
                             join pgflow.step_states ds on ds.run_id = ss.run_id and ds.step_slug = d.dep_slug
                            where d.flow_slug = ss.flow_slug and d.step_slug = ss.step_slug
                              and ds.status not in ('completed', 'skipped'))
   where ss.run_id = p_run_id and ss.status in ('failed', 'cancelled');

  update pgflow.runs r
     set status = 'started', error = null, failed_at = null, cancelled_at = null,
         started_at = coalesce(r.started_at, now()), start_at = null,
         timeout_at = now() + (select make_interval(secs => f.opt_run_timeout)
                                 from pgflow.flows f where f.flow_slug = r.flow_slug),
         remaining_steps = (select count(*) from pgflow.step_states ss
                             where ss.run_id = r.run_id and ss.status not in ('completed', 'skipped'))
   where r.run_id = p_run_id;

  perform pg_notify('pgflow_tasks', v_run.flow_slug);
  -- workers that saw the run end forget it: its tasks are wanted again
  perform pg_notify('pgflow_control', p_run_id::text || ':started');
  perform pgflow.start_ready_steps(array[p_run_id]);

  for v_child in
    select k.run_id, k.status
      from pgflow.runs k
      join pgflow.step_tasks t on t.run_id = p_run_id and t.step_slug = k.parent_step_slug
                              and t.task_index = k.parent_task_index and t.status = 'waiting'
     where k.parent_run_id = p_run_id
     order by k.run_id
  loop
    if v_child.status in ('failed', 'cancelled') then
      perform pgflow.retry_run(v_child.run_id);
    elsif v_child.status = 'completed' then
      perform pgflow.settle_parents(array[v_child.run_id]);
    end if;
  end loop;
  select * into v_run from pgflow.runs where run_id = p_run_id;
  return v_run;
end;
$$;

-- Child runs that just ended settle their parent's task, in the transaction that ended
-- them: a completed child completes the 'waiting' task with the child's output; a failed
-- or cancelled one exhausts it (no retry: a new attempt would start another child) with
-- a message naming the child, and the step's whenExhausted decides. The parent task's
-- progress tells watchRun how many of the step's children are done. A parent no longer
-- live is left alone (it cancelled its children itself). Completed children settle in
-- one complete_tasks call, so a batch of them moves the parent step's counter once.
-- Callers hold the children's row locks; parents are locked here, after their children.
create or replace function pgflow.settle_parents(p_child_run_ids uuid[])
returns void
language plpgsql
as $$
declare
  c record;
  v_attempt int;
  v_results jsonb;
  v_parents uuid[];
  v_live uuid[];
begin
  select array_agg(distinct k.parent_run_id) into v_parents
    from pgflow.runs k
   where k.run_id = any(p_child_run_ids) and k.parent_run_id is not null
     and k.status in ('completed', 'failed', 'cancelled', 'compensation_failed');
  if v_parents is null then
    return;
  end if;
  perform 1 from pgflow.runs q where q.run_id = any(v_parents) order by q.run_id for no key update;

  select array_agg(q.run_id) into v_live
    from pgflow.runs q where q.run_id = any(v_parents) and q.status in ('started', 'queued');
  -- joined through runs' and step_tasks' keys, never through the JSON: a join on JSON
  -- fields was planned as a nested loop over the whole batch per child (quadratic)
  with flipped as (
    update pgflow.step_tasks t
       set status = 'started', progress = jsonb_build_object('childRunId', k.run_id, 'status', 'completed')
      from pgflow.runs k
     where k.run_id = any(p_child_run_ids) and k.status = 'completed' and k.parent_run_id = any(v_live)
       and t.run_id = k.parent_run_id and t.step_slug = k.parent_step_slug
       and t.task_index = k.parent_task_index and t.status = 'waiting'
    returning t.run_id, t.step_slug, t.task_index, t.attempts_count, k.output
  )
  select jsonb_agg(jsonb_build_object('run_id', f.run_id, 'step_slug', f.step_slug, 'task_index', f.task_index,
                                      'attempt', f.attempts_count, 'output', coalesce(f.output, 'null'::jsonb)))
    into v_results from flipped f;
  if v_results is not null then
    perform pgflow.complete_tasks(v_results);
    -- n of N children done, for watchRun
    update pgflow.step_tasks t
       set progress = t.progress || jsonb_build_object('done', ss.total_tasks - ss.remaining_tasks, 'total', ss.total_tasks)
      from pgflow.runs k, pgflow.step_states ss
     where k.run_id = any(p_child_run_ids) and k.status = 'completed' and k.parent_run_id = any(v_live)
       and t.run_id = k.parent_run_id and t.step_slug = k.parent_step_slug and t.task_index = k.parent_task_index
       and ss.run_id = t.run_id and ss.step_slug = t.step_slug;
  end if;

  for c in
    select k.run_id, k.flow_slug, k.status, k.error, k.parent_run_id, k.parent_step_slug, k.parent_task_index
      from pgflow.runs k
      join pgflow.runs q on q.run_id = k.parent_run_id and q.status in ('started', 'queued')
     where k.run_id = any(p_child_run_ids) and k.status in ('failed', 'cancelled', 'compensation_failed')
     order by k.parent_run_id, k.run_id
  loop
    update pgflow.step_tasks t
       set status = 'started', progress = jsonb_build_object('childRunId', c.run_id, 'status', c.status)
     where t.run_id = c.parent_run_id and t.step_slug = c.parent_step_slug and t.task_index = c.parent_task_index
       and t.status = 'waiting'
    returning t.attempts_count into v_attempt;
    continue when v_attempt is null;
    perform pgflow.fail_task(c.parent_run_id, c.parent_step_slug, c.parent_task_index, v_attempt,
      case when c.status = 'cancelled'
        then format('child run %s of flow "%s" was cancelled', c.run_id, c.flow_slug)
        else format('child run %s of flow "%s" failed: %s', c.run_id, c.flow_slug, coalesce(c.error->>'message', 'unknown error'))
      end,
      true);
  end loop;

  perform pg_notify('pgflow_runs', p::text || ':progress') from unnest(v_parents) p;
end;
$$;

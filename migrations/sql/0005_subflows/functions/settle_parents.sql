-- Child runs that just ended settle their parent's task, in the transaction that ended
-- them: a completed child completes the 'waiting' task with the child's output; a failed
-- or cancelled one exhausts it (no retry: a new attempt would start another child) with
-- a message naming the child, and the step's whenExhausted decides. The parent task's
-- progress tells watchRun how many of the step's children are done. A parent no longer
-- live is left alone (it cancelled its children itself). Callers hold the children's
-- row locks; parents are locked here, after their children.
create or replace function pgflow.settle_parents(p_child_run_ids uuid[])
returns void
language plpgsql
as $$
declare
  c record;
  v_attempt int;
  v_run_status text;
begin
  for c in
    select k.run_id, k.flow_slug, k.status, k.output, k.error, k.parent_run_id, k.parent_step_slug, k.parent_task_index
      from pgflow.runs k
     where k.run_id = any(p_child_run_ids) and k.parent_run_id is not null
       and k.status in ('completed', 'failed', 'cancelled', 'compensation_failed')
     order by k.parent_run_id
  loop
    select q.status into v_run_status from pgflow.runs q where q.run_id = c.parent_run_id for no key update;
    continue when v_run_status is null or v_run_status not in ('started', 'queued');
    update pgflow.step_tasks t
       set status = 'started',
           progress = jsonb_build_object('childRunId', c.run_id, 'status', c.status)
     where t.run_id = c.parent_run_id and t.step_slug = c.parent_step_slug and t.task_index = c.parent_task_index
       and t.status = 'waiting'
    returning t.attempts_count into v_attempt;
    continue when v_attempt is null;
    if c.status = 'completed' then
      perform pgflow.complete_tasks(jsonb_build_array(jsonb_build_object(
        'run_id', c.parent_run_id, 'step_slug', c.parent_step_slug, 'task_index', c.parent_task_index,
        'attempt', v_attempt, 'output', coalesce(c.output, 'null'::jsonb))));
      -- n of N children done, for watchRun
      update pgflow.step_tasks t
         set progress = t.progress || jsonb_build_object('done', ss.total_tasks - ss.remaining_tasks, 'total', ss.total_tasks)
        from pgflow.step_states ss
       where t.run_id = c.parent_run_id and t.step_slug = c.parent_step_slug and t.task_index = c.parent_task_index
         and ss.run_id = t.run_id and ss.step_slug = t.step_slug;
    else
      perform pgflow.fail_task(c.parent_run_id, c.parent_step_slug, c.parent_task_index, v_attempt,
        case when c.status in ('failed', 'compensation_failed')
          then format('child run %s of flow "%s" failed: %s', c.run_id, c.flow_slug, coalesce(c.error->>'message', 'unknown error'))
          else format('child run %s of flow "%s" was cancelled', c.run_id, c.flow_slug) end,
        true);
    end if;
    perform pg_notify('pgflow_runs', c.parent_run_id::text || ':progress');
  end loop;
end;
$$;

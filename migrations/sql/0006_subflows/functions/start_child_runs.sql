-- Starts the child runs of subflow tasks whose handlers returned: p_results is a JSON
-- array of {run_id, step_slug, task_index, attempt, input}, input being the child
-- run's input. Each task still 'started' by that attempt in a live run becomes
-- 'waiting' (no lease: nobody executes it) and its child starts in this transaction;
-- the child's end settles the task (settle_parents). A child the flow refuses (it is
-- deprecated, or maps over a run input that is not an array) fails the task at once,
-- with no retry and no child run. Returns each result's outcome: 'started', 'failed',
-- 'skipped' (failed, and whenExhausted skipped the step) or 'ignored' (stale).
create or replace function pgflow.start_child_runs(p_results jsonb)
returns table (run_id uuid, step_slug text, task_index int, outcome text)
language plpgsql
as $$
declare
  r record;
  v_problem text;
  v_task_status text;
  v_run_status text;
begin
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'start_child_runs expects a JSON array of results' using errcode = 'PGF05';
  end if;
  -- one lock per parent run, in run_id order, as in complete_tasks
  perform 1 from pgflow.runs q
   where q.run_id in (select (x->>'run_id')::uuid from jsonb_array_elements(p_results) x)
   order by q.run_id for no key update;

  for r in
    select (x->>'run_id')::uuid as run_id, x->>'step_slug' as step_slug, (x->>'task_index')::int as task_index,
           (x->>'attempt')::int as attempt, coalesce(x->'input', 'null'::jsonb) as input,
           t.attempts_count, q.priority, q.traceparent,
           s.subflow_slug, sub.deprecated,
           exists (select 1 from pgflow.steps m where m.flow_slug = s.subflow_slug and m.map_source = 'run') as maps_run
      from jsonb_array_elements(p_results) x
      left join pgflow.step_tasks t on t.run_id = (x->>'run_id')::uuid and t.step_slug = x->>'step_slug'
                                   and t.task_index = (x->>'task_index')::int
      left join pgflow.runs q on q.run_id = t.run_id
      left join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
      left join pgflow.flows sub on sub.flow_slug = s.subflow_slug
     order by 1, 2, 3
  loop
    run_id := r.run_id;
    step_slug := r.step_slug;
    task_index := r.task_index;
    -- read again: an earlier result of this batch may have failed the run (a refused child)
    select t.status, q.status into v_task_status, v_run_status
      from pgflow.step_tasks t join pgflow.runs q on q.run_id = t.run_id
     where t.run_id = r.run_id and t.step_slug = r.step_slug and t.task_index = r.task_index;
    if v_task_status is distinct from 'started' or r.attempts_count <> r.attempt
       or v_run_status is null or v_run_status not in ('started', 'queued') or r.subflow_slug is null then
      outcome := 'ignored';
      return next;
      continue;
    end if;
    v_problem := case
      when r.deprecated then format('subflow "%s" is deprecated and accepts no new runs', r.subflow_slug)
      when r.maps_run and jsonb_typeof(r.input) <> 'array' then
        format('subflow "%s" maps over its run input, which must be an array (got %s)', r.subflow_slug, jsonb_typeof(r.input))
    end;
    if v_problem is not null then
      outcome := pgflow.fail_task(r.run_id, r.step_slug, r.task_index, r.attempt, v_problem, true);
      return next;
      continue;
    end if;
    update pgflow.step_tasks t
       set status = 'waiting', lease_expires_at = null, completed_at = null
     where t.run_id = r.run_id and t.step_slug = r.step_slug and t.task_index = r.task_index;
    perform pgflow.start_flow(r.subflow_slug, r.input, null, null, r.priority, null, r.traceparent,
                              r.run_id, r.step_slug, r.task_index);
    outcome := 'started';
    return next;
  end loop;
end;
$$;

-- Completes a batch of tasks in one transaction: p_results is a JSON array of
-- {run_id, step_slug, task_index, attempt, output}. A result is accepted only if
-- its task is still 'started' by that very attempt in a live run ('queued' counts:
-- a run whose start_at passed may be promoted a moment after its task was claimed); anything
-- else (stale attempt, cancelled or failed run, finished task) is ignored and
-- reported with accepted = false. Step counters drop once per step per batch, so a
-- map step's state row is updated once per flush instead of once per task.
-- Results of compensations (their run is 'compensating') go to complete_compensations.
create or replace function pgflow.complete_tasks(p_results jsonb)
returns table (run_id uuid, step_slug text, task_index int, accepted boolean)
language plpgsql
-- planned once per session, never with a seq scan (see start_tasks)
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
as $$
declare
  v_r_runs uuid[];
  v_r_steps text[];
  v_r_idx int[];
  v_r_attempts int[];
  v_r_outputs jsonb[];
  v_live uuid[];
  v_done_runs uuid[];
  v_done_steps text[];
  v_done_idx int[];
  v_done_attempts int[];
  v_done_outputs jsonb[];
  v_fin_runs uuid[];
  v_fin_steps text[];
  v_fin_flows text[];
  v_ended uuid[];
  v_compensating boolean;
begin
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'complete_tasks expects a JSON array of results' using errcode = 'PGF05';
  end if;

  -- the batch is parsed once into these arrays (complete_compensations, for compensating
  -- runs only, reads the JSON itself)
  select array_agg((x->>'run_id')::uuid order by o), array_agg(x->>'step_slug' order by o),
         array_agg((x->>'task_index')::int order by o), array_agg((x->>'attempt')::int order by o),
         array_agg(coalesce(x->'output', 'null'::jsonb) order by o)
    into v_r_runs, v_r_steps, v_r_idx, v_r_attempts, v_r_outputs
    from jsonb_array_elements(p_results) with ordinality as e(x, o);

  -- one lock per run, always in run_id order: serializes every state change of a run;
  -- the runs still live are the ones whose results can count
  select coalesce(bool_or(l.status = 'compensating'), false),
         array_agg(l.run_id) filter (where l.status in ('started', 'queued'))
    into v_compensating, v_live
    from (select r.run_id, r.status from pgflow.runs r
           where r.run_id = any(v_r_runs)
           order by r.run_id for no key update) l;

  if v_live is not null then
    -- Each task is found by its primary key. Written as `t.status = 'started'`, the
    -- condition would let the planner walk step_tasks_lease_idx (every running task,
    -- of every worker) and match each against the batch.
    with res as (
      select u.run_id, u.step_slug, u.task_index, u.attempt, u.output
        from unnest(v_r_runs, v_r_steps, v_r_idx, v_r_attempts, v_r_outputs)
             as u(run_id, step_slug, task_index, attempt, output)
       where u.run_id = any(v_live)
    ), done as (
      update pgflow.step_tasks t
         set status = 'completed', output = res.output, completed_at = now(), lease_expires_at = null
        from res
       where t.run_id = res.run_id and t.step_slug = res.step_slug and t.task_index = res.task_index
         and case when t.status = 'started' then t.attempts_count end = res.attempt
      returning t.run_id, t.step_slug, t.task_index, t.attempts_count, t.output
    )
    select array_agg(done.run_id), array_agg(done.step_slug), array_agg(done.task_index),
           array_agg(done.attempts_count), array_agg(done.output)
      into v_done_runs, v_done_steps, v_done_idx, v_done_attempts, v_done_outputs
      from done;
  end if;

  if v_done_runs is not null then
    -- one update per step: the counter drops and, when it reaches zero, the step
    -- completes with its output in the same row version. A single-task step's output
    -- is the one result just stored: taken from the batch, not read back.
    with counted as (
      select d.run_id, d.step_slug, count(*)::int as n, (array_agg(d.output))[1] as first_output
        from unnest(v_done_runs, v_done_steps, v_done_outputs) as d(run_id, step_slug, output)
       group by d.run_id, d.step_slug
    ), dec as (
      update pgflow.step_states ss
         set remaining_tasks = ss.remaining_tasks - c.n,
             status = case when ss.remaining_tasks = c.n then 'completed' else ss.status end,
             completed_at = case when ss.remaining_tasks = c.n then now() else ss.completed_at end,
             output = case
               when ss.remaining_tasks <> c.n then ss.output
               when s.step_type = 'single' and s.initial_tasks is null then c.first_output
               else
                 (select jsonb_agg(t.output order by t.task_index) from pgflow.step_tasks t
                   where t.run_id = ss.run_id and t.step_slug = ss.step_slug)
             end
        from counted c, pgflow.steps s
       where ss.run_id = c.run_id and ss.step_slug = c.step_slug
         and s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
      returning ss.run_id, ss.step_slug, ss.flow_slug, ss.remaining_tasks
    )
    select array_agg(dec.run_id), array_agg(dec.step_slug), array_agg(dec.flow_slug)
      into v_fin_runs, v_fin_steps, v_fin_flows
      from dec where dec.remaining_tasks = 0;

    if v_fin_runs is not null then
      v_ended := pgflow.cascade_finished(v_fin_runs, v_fin_steps, v_fin_flows);
      -- a run that completed has no step left to start
      perform pgflow.start_ready_steps(array(select distinct x from unnest(v_fin_runs) x
                                              where not x = any(coalesce(v_ended, '{}'))));
    end if;
  end if;

  if v_compensating then
    select v_done_runs || array_agg(c.run_id), v_done_steps || array_agg(c.step_slug),
           v_done_idx || array_agg(c.task_index), v_done_attempts || array_agg(c.attempt)
      into v_done_runs, v_done_steps, v_done_idx, v_done_attempts
      from pgflow.complete_compensations(p_results) c;
  end if;

  -- the attempt is part of the match: a stale attempt of a task whose current attempt
  -- was accepted in the same batch must still be reported as not accepted (an accepted
  -- task is in v_done_* once: an update changes a row once)
  return query
    select r.run_id, r.step_slug, r.task_index, d.r is not null
      from unnest(v_r_runs, v_r_steps, v_r_idx, v_r_attempts) with ordinality as r(run_id, step_slug, task_index, attempt, o)
      left join unnest(v_done_runs, v_done_steps, v_done_idx, v_done_attempts) as d(r, s, i, a)
        on d.r = r.run_id and d.s = r.step_slug and d.i = r.task_index and d.a = r.attempt
     order by r.o;
end;
$$;

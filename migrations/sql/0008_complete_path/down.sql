-- What down() runs: undoes 0008_complete_path. Frozen: never derived again from other files.

drop function pgflow.cascade_finished(uuid[], text[], text[]);

-- Bookkeeping after steps finished (completed or skipped): their dependents have one
-- dependency less and each run one step less. Callers hold the runs' row locks.
-- A run whose last step this was completes in the same update: one new row version
-- (and one set of index entries) per finished run instead of two. A completed child
-- run completes its parent's task in the same transaction (settle_parents).
create or replace function pgflow.cascade_finished(p_run_ids uuid[], p_step_slugs text[])
returns void
language plpgsql
-- planned once per session, never with a seq scan, like start_tasks: custom plans
-- (which know the arrays' lengths) were the default and were made anew on every call
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
as $$
declare
  v_done uuid[];
  v_children uuid[];
begin
  with fin as (
    select f.run_id, f.step_slug, ss.flow_slug
      from unnest(p_run_ids, p_step_slugs) as f(run_id, step_slug)
      join pgflow.step_states ss on ss.run_id = f.run_id and ss.step_slug = f.step_slug
  ), dec as (
    select fin.run_id, d.step_slug, count(*)::int as n
      from fin
      join pgflow.deps d on d.flow_slug = fin.flow_slug and d.dep_slug = fin.step_slug
     group by fin.run_id, d.step_slug
  )
  update pgflow.step_states ss
     set remaining_deps = ss.remaining_deps - dec.n
    from dec
   where ss.run_id = dec.run_id and ss.step_slug = dec.step_slug;

  with counted as (
    select f.run_id, count(*)::int as n from unnest(p_run_ids) as f(run_id) group by f.run_id
  ), upd as (
    update pgflow.runs r
       set remaining_steps = r.remaining_steps - c.n,
           status = case when c.last then 'completed' else r.status end,
           completed_at = case when c.last then now() else r.completed_at end,
           started_at = case when c.last then coalesce(r.started_at, now()) else r.started_at end,
           -- null already for runs without a runTimeout: the update stays HOT
           timeout_at = case when c.last then null else r.timeout_at end,
           output = case when not c.last then r.output else (
             -- {<leafSlug>: output} over completed leaf steps (skipped leaves are absent)
             select coalesce(jsonb_object_agg(ss.step_slug, ss.output), '{}'::jsonb)
               from pgflow.step_states ss
              where ss.run_id = r.run_id and ss.status = 'completed'
                and not exists (select 1 from pgflow.deps d
                                 where d.flow_slug = r.flow_slug and d.dep_slug = ss.step_slug)) end
      from (select c.run_id, c.n, c.n = x.remaining_steps and x.status in ('started', 'queued') as last
              from counted c join pgflow.runs x on x.run_id = c.run_id) c
     where r.run_id = c.run_id
    returning r.run_id, c.last, r.parent_run_id
  )
  select array_agg(upd.run_id) filter (where upd.last),
         array_agg(upd.run_id) filter (where upd.last and upd.parent_run_id is not null)
    into v_done, v_children from upd;
  perform pgflow.notify_run(d, 'completed') from unnest(v_done) d;
  if v_children is not null then
    perform pgflow.settle_parents(v_children);
  end if;
end;
$$;

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
  v_done_runs uuid[];
  v_done_steps text[];
  v_done_idx int[];
  v_done_attempts int[];
  v_fin_runs uuid[];
  v_fin_steps text[];
  v_compensating boolean;
begin
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'complete_tasks expects a JSON array of results' using errcode = 'PGF05';
  end if;

  -- one lock per run, always in run_id order: serializes every state change of a run
  select coalesce(bool_or(l.status = 'compensating'), false) into v_compensating
    from (select r.status from pgflow.runs r
           where r.run_id in (select (x->>'run_id')::uuid from jsonb_array_elements(p_results) x)
           order by r.run_id for no key update) l;

  with res as (
    select (x->>'run_id')::uuid as run_id, x->>'step_slug' as step_slug, (x->>'task_index')::int as task_index,
           (x->>'attempt')::int as attempt, coalesce(x->'output', 'null'::jsonb) as output
      from jsonb_array_elements(p_results) x
  ), done as (
    update pgflow.step_tasks t
       set status = 'completed', output = res.output, completed_at = now(), lease_expires_at = null
      from res, pgflow.runs r
     where t.run_id = res.run_id and t.step_slug = res.step_slug and t.task_index = res.task_index
       and t.status = 'started' and t.attempts_count = res.attempt
       and r.run_id = t.run_id and r.status in ('started', 'queued')
    returning t.run_id, t.step_slug, t.task_index, t.attempts_count
  )
  select array_agg(done.run_id), array_agg(done.step_slug), array_agg(done.task_index), array_agg(done.attempts_count)
    into v_done_runs, v_done_steps, v_done_idx, v_done_attempts
    from done;

  if v_done_runs is not null then
    -- one update per step: the counter drops and, when it reaches zero, the step
    -- completes with its output in the same row version
    with counted as (
      select d.run_id, d.step_slug, count(*)::int as n
        from unnest(v_done_runs, v_done_steps) as d(run_id, step_slug)
       group by d.run_id, d.step_slug
    ), dec as (
      update pgflow.step_states ss
         set remaining_tasks = ss.remaining_tasks - c.n,
             status = case when ss.remaining_tasks = c.n then 'completed' else ss.status end,
             completed_at = case when ss.remaining_tasks = c.n then now() else ss.completed_at end,
             output = case
               when ss.remaining_tasks <> c.n then ss.output
               when s.step_type = 'single' and s.initial_tasks is null then
                 (select t.output from pgflow.step_tasks t
                   where t.run_id = ss.run_id and t.step_slug = ss.step_slug and t.task_index = 0)
               else
                 (select jsonb_agg(t.output order by t.task_index) from pgflow.step_tasks t
                   where t.run_id = ss.run_id and t.step_slug = ss.step_slug)
             end
        from counted c, pgflow.steps s
       where ss.run_id = c.run_id and ss.step_slug = c.step_slug
         and s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
      returning ss.run_id, ss.step_slug, ss.remaining_tasks
    )
    select array_agg(dec.run_id), array_agg(dec.step_slug) into v_fin_runs, v_fin_steps
      from dec where dec.remaining_tasks = 0;

    if v_fin_runs is not null then
      perform pgflow.cascade_finished(v_fin_runs, v_fin_steps);
      perform pgflow.start_ready_steps(array(select distinct x from unnest(v_fin_runs) x));
    end if;
  end if;

  if v_compensating then
    select v_done_runs || array_agg(c.run_id), v_done_steps || array_agg(c.step_slug),
           v_done_idx || array_agg(c.task_index), v_done_attempts || array_agg(c.attempt)
      into v_done_runs, v_done_steps, v_done_idx, v_done_attempts
      from pgflow.complete_compensations(p_results) c;
  end if;

  -- the attempt is part of the match: a stale attempt of a task whose current attempt
  -- was accepted in the same batch must still be reported as not accepted
  return query
    select (x->>'run_id')::uuid, x->>'step_slug', (x->>'task_index')::int,
           exists (select 1 from unnest(v_done_runs, v_done_steps, v_done_idx, v_done_attempts) as d(r, s, i, a)
                    where d.r = (x->>'run_id')::uuid and d.s = x->>'step_slug' and d.i = (x->>'task_index')::int
                      and d.a = (x->>'attempt')::int)
      from jsonb_array_elements(p_results) x;
end;
$$;

-- TODO: undo schema.sql

-- What down() runs: maybe_complete_run, which up() drops, and the eight functions up()
-- replaces (not fail_task and reclaim_expired_tasks, which it re-applies unchanged), as
-- 0001 creates them. Frozen here, never derived again from 0001's files.

-- Completes runs whose every step finished; output is {<leafSlug>: output} over
-- completed leaf steps (skipped leaves are absent).
create or replace function pgflow.maybe_complete_run(p_run_ids uuid[])
returns void
language plpgsql
as $$
declare
  v_done uuid[];
begin
  with done as (
    update pgflow.runs r
       set status = 'completed',
           completed_at = now(),
           started_at = coalesce(r.started_at, now()),
           output = (
             select coalesce(jsonb_object_agg(ss.step_slug, ss.output), '{}'::jsonb)
               from pgflow.step_states ss
              where ss.run_id = r.run_id and ss.status = 'completed'
                and not exists (select 1 from pgflow.deps d
                                 where d.flow_slug = r.flow_slug and d.dep_slug = ss.step_slug))
     where r.run_id = any(p_run_ids) and r.remaining_steps = 0 and r.status in ('started', 'queued')
    returning r.run_id
  )
  select array_agg(done.run_id) into v_done from done;
  perform pgflow.notify_run(d, 'completed') from unnest(v_done) d;
end;
$$;

-- Input of a single step: {"run": <run input>, "<dep>": <dep output>, ...};
-- skipped dependencies are absent.
create or replace function pgflow.build_step_input(
  p_run_id uuid,
  p_flow_slug text,
  p_step_slug text,
  p_run_input jsonb
)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object('run', p_run_input)
         || coalesce(jsonb_object_agg(d.dep_slug, ds.output), '{}'::jsonb)
    from pgflow.deps d
    join pgflow.step_states ds on ds.run_id = p_run_id and ds.step_slug = d.dep_slug
   where d.flow_slug = p_flow_slug and d.step_slug = p_step_slug and ds.status = 'completed';
$$;

-- Bookkeeping after steps finished (completed or skipped): their dependents have one
-- dependency less and each run one step less. Callers hold the runs' row locks.
create or replace function pgflow.cascade_finished(p_run_ids uuid[], p_step_slugs text[])
returns void
language plpgsql
as $$
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

  update pgflow.runs r
     set remaining_steps = r.remaining_steps - c.n
    from (select f.run_id, count(*)::int as n from unnest(p_run_ids) as f(run_id) group by f.run_id) c
   where r.run_id = c.run_id;
end;
$$;

-- Completes a batch of tasks in one transaction: p_results is a JSON array of
-- {run_id, step_slug, task_index, attempt, output}. A result is accepted only if
-- its task is still 'started' by that very attempt in a live run ('queued' counts:
-- a run whose start_at passed may be promoted a moment after its task was claimed); anything
-- else (stale attempt, cancelled or failed run, finished task) is ignored and
-- reported with accepted = false. Step counters drop once per step per batch, so a
-- map step's state row is updated once per flush instead of once per task.
create or replace function pgflow.complete_tasks(p_results jsonb)
returns table (run_id uuid, step_slug text, task_index int, accepted boolean)
language plpgsql
as $$
declare
  v_runs uuid[];
  v_done_runs uuid[];
  v_done_steps text[];
  v_done_idx int[];
  v_done_attempts int[];
  v_fin_runs uuid[];
  v_fin_steps text[];
begin
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'complete_tasks expects a JSON array of results' using errcode = 'PGF05';
  end if;

  select array_agg(distinct (x->>'run_id')::uuid) into v_runs from jsonb_array_elements(p_results) x;
  -- one lock per run, always in run_id order: serializes every state change of a run
  perform 1 from pgflow.runs r where r.run_id = any(v_runs) order by r.run_id for no key update;

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

-- complete_tasks then start_tasks in one transaction and one round trip: what a
-- worker with results to report and free slots would otherwise send as two calls.
-- A result's follow-up task (the next step of a chain) is claimed in the same call
-- instead of after a NOTIFY and another query.
create or replace function pgflow.complete_tasks_and_claim(
  p_results jsonb, p_flow_slugs text[], p_worker_id text, p_batch_size int, p_known_runs uuid[] default null
)
returns setof pgflow.claimed_task
language plpgsql
as $$
declare
  v_sync text := current_setting('synchronous_commit');
begin
  perform 1 from pgflow.complete_tasks(p_results);
  if p_batch_size > 0 then
    return query select * from pgflow.start_tasks(p_flow_slugs, p_worker_id, p_batch_size, p_known_runs);
    -- start_tasks made the commit asynchronous; this one carries results
    perform set_config('synchronous_commit', v_sync, true);
  end if;
end;
$$;

-- Run events for waitForRun/watchRun. Postgres folds identical payloads within a
-- transaction, so many step changes of one run cost a single notification.
create or replace function pgflow.notify_run(p_run_id uuid, p_status text)
returns void
language sql
as $$
  select pg_notify('pgflow_runs', p_run_id::text || ':' || p_status);
$$;

-- Resumes a failed or cancelled run. Completed steps and completed map elements
-- keep their outputs and never run again; failed and cancelled tasks are queued
-- with a fresh attempt budget (attempts_base); steps that never started wait for
-- their dependencies again.
create or replace function pgflow.retry_run(p_run_id uuid)
returns pgflow.runs
language plpgsql
as $$
declare
  v_run pgflow.runs;
begin
  select * into v_run from pgflow.runs where run_id = p_run_id for no key update;
  if not found then
    raise exception 'unknown run %', p_run_id using errcode = 'PGF03';
  end if;
  if v_run.status not in ('failed', 'cancelled') then
    raise exception 'run % is %: only failed or cancelled runs can be retried', p_run_id, v_run.status
      using errcode = 'PGF05', detail = v_run.status;
  end if;

  -- only tasks of steps that are themselves failed or cancelled: a step skipped by
  -- whenExhausted keeps its failed/cancelled tasks, and re-queueing them would run the
  -- skipped step again and count its completion a second time
  update pgflow.step_tasks t
     set status = 'queued', attempts_base = t.attempts_count, visible_at = now(), claimed_by = null,
         lease_expires_at = null, started_at = null, failed_at = null
    from pgflow.step_states ss
   where t.run_id = p_run_id and t.status in ('failed', 'cancelled')
     and ss.run_id = t.run_id and ss.step_slug = t.step_slug and ss.status in ('failed', 'cancelled');

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
         remaining_steps = (select count(*) from pgflow.step_states ss
                             where ss.run_id = r.run_id and ss.status not in ('completed', 'skipped'))
   where r.run_id = p_run_id;

  perform pg_notify('pgflow_tasks', v_run.flow_slug);
  perform pgflow.start_ready_steps(array[p_run_id]);
  select * into v_run from pgflow.runs where run_id = p_run_id;
  return v_run;
end;
$$;

-- Starts every step of the given runs whose dependencies are all finished, wave by
-- wave: a step that finishes at once (skipped, empty map) can make its dependents
-- ready in the same call. Tasks are created set-based per step; one NOTIFY per flow.
-- Callers hold the runs' row locks. Ends by completing runs that have nothing left.
create or replace function pgflow.start_ready_steps(p_run_ids uuid[])
returns void
language plpgsql
as $$
declare
  r record;
  v_input jsonb;
  v_source jsonb;
  v_n int;
  v_visible timestamptz;
  v_fin_runs uuid[];
  v_fin_steps text[];
  v_notify text[] := '{}';
begin
  loop
    v_fin_runs := '{}';
    v_fin_steps := '{}';
    for r in
      select ss.run_id, ss.step_slug, ss.flow_slug, s.step_type, s.map_source, s.initial_tasks,
             s.condition_if, s.condition_if_not, s.when_unmet, s.opt_start_delay,
             run.input as run_input, run.priority, run.start_at
        from pgflow.step_states ss
        join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
        join pgflow.runs run on run.run_id = ss.run_id
       where ss.run_id = any(p_run_ids) and ss.status = 'created' and ss.remaining_deps = 0
         and run.status in ('started', 'queued')
       order by ss.run_id, s.step_index
    loop
      -- an earlier step of this wave may have failed the run
      continue when not exists (select 1 from pgflow.runs x
                                 where x.run_id = r.run_id and x.status in ('started', 'queued'));

      if exists (select 1 from pgflow.deps d
                   join pgflow.step_states ds on ds.run_id = r.run_id and ds.step_slug = d.dep_slug
                  where d.flow_slug = r.flow_slug and d.step_slug = r.step_slug
                    and ds.status = 'skipped' and ds.skip_cascade) then
        update pgflow.step_states set status = 'skipped', skip_cascade = true, completed_at = now()
         where run_id = r.run_id and step_slug = r.step_slug;
        v_fin_runs := v_fin_runs || r.run_id;
        v_fin_steps := v_fin_steps || r.step_slug;
        continue;
      end if;

      if r.condition_if is not null or r.condition_if_not is not null then
        v_input := pgflow.build_step_input(r.run_id, r.flow_slug, r.step_slug, r.run_input);
        if (r.condition_if is not null and not (v_input @> r.condition_if))
           or (r.condition_if_not is not null and v_input @> r.condition_if_not) then
          update pgflow.step_states
             set status = 'skipped', skip_cascade = (r.when_unmet = 'skip-cascade'), completed_at = now()
           where run_id = r.run_id and step_slug = r.step_slug;
          v_fin_runs := v_fin_runs || r.run_id;
          v_fin_steps := v_fin_steps || r.step_slug;
          continue;
        end if;
      end if;

      v_visible := greatest(now(), coalesce(r.start_at, now()))
                   + make_interval(secs => coalesce(r.opt_start_delay, 0));

      if r.step_type = 'map' then
        if r.map_source = 'run' then
          v_source := r.run_input;
        else
          select case when ds.status = 'skipped' then '[]'::jsonb else ds.output end into v_source
            from pgflow.step_states ds where ds.run_id = r.run_id and ds.step_slug = r.map_source;
        end if;
        if jsonb_typeof(v_source) is distinct from 'array' then
          perform pgflow.fail_run(r.run_id, r.step_slug, 0,
            format('step "%s" maps over "%s", whose output is not an array (got %s)',
                   r.step_slug, r.map_source, coalesce(jsonb_typeof(v_source), 'null')));
          continue;
        end if;
        v_n := jsonb_array_length(v_source);
        if v_n = 0 then
          update pgflow.step_states
             set status = 'completed', output = '[]'::jsonb, total_tasks = 0, remaining_tasks = 0,
                 started_at = now(), completed_at = now()
           where run_id = r.run_id and step_slug = r.step_slug;
          v_fin_runs := v_fin_runs || r.run_id;
          v_fin_steps := v_fin_steps || r.step_slug;
          continue;
        end if;
        insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, priority, visible_at, input)
        select r.run_id, r.flow_slug, r.step_slug, (e.ord - 1)::int, r.priority, v_visible, e.value
          from jsonb_array_elements(v_source) with ordinality as e(value, ord);
      else
        v_n := coalesce(r.initial_tasks, 1);
        insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, priority, visible_at)
        select r.run_id, r.flow_slug, r.step_slug, g, r.priority, v_visible
          from generate_series(0, v_n - 1) g;
      end if;

      update pgflow.step_states
         set status = 'started', total_tasks = v_n, remaining_tasks = v_n, started_at = now()
       where run_id = r.run_id and step_slug = r.step_slug;
      if v_visible <= now() and not (r.flow_slug = any(v_notify)) then
        v_notify := v_notify || r.flow_slug;
      end if;
    end loop;

    exit when cardinality(v_fin_runs) = 0;
    perform pgflow.cascade_finished(v_fin_runs, v_fin_steps);
  end loop;

  perform pg_notify('pgflow_tasks', f) from unnest(v_notify) f;
  perform pgflow.maybe_complete_run(p_run_ids);
  -- runs that just completed told their watchers so (and a re-read shows every step):
  -- one notification per finished single-step run instead of two
  perform pgflow.notify_run(live.run_id, 'started')
     from pgflow.runs live where live.run_id = any(p_run_ids) and live.status in ('started', 'queued');
end;
$$;

-- Claims up to p_batch_size visible queued tasks of the given flows (null: any flow),
-- highest priority first, with FOR UPDATE SKIP LOCKED so concurrent workers never
-- get the same task. Each claim counts an attempt and takes a lease of the step's
-- timeout plus a margin. Returns each task with its built input. `attempt` identifies
-- the attempt (results must echo it); `attempt_number` is its 1-based number since the
-- run was last resumed, what handlers see as ctx.attempt.
-- p_known_runs: runs whose input the caller already holds (a run's input never
-- changes); their run_input comes back null. A map step's tasks all carry the same,
-- possibly large, run input, and shipping and parsing it per task was W3's cost.
create or replace function pgflow.start_tasks(p_flow_slugs text[], p_worker_id text, p_batch_size int,
                                              p_known_runs uuid[] default null)
returns setof pgflow.claimed_task
language plpgsql
as $$
begin
  -- A claim need not wait for its WAL flush: should Postgres crash first, the claim
  -- is lost and the task is simply queued again (handlers run at least once; a result
  -- of the lost attempt is discarded as stale or accepted for the same attempt, never
  -- twice). Results stay synchronous (complete_tasks_and_claim switches back), and
  -- the next synchronous commit flushes every claim before it.
  perform set_config('synchronous_commit', 'off', true);

  if exists (select 1 from pgflow.step_tasks t where t.status = 'started' and t.lease_expires_at <= now()) then
    perform pgflow.reclaim_expired_tasks(100);
  end if;

  perform pgflow.promote_due_runs();

  return query
  with picked as (
    select t.run_id, t.step_slug, t.task_index
      from pgflow.step_tasks t
     where t.status = 'queued' and t.visible_at <= now()
       and (p_flow_slugs is null or t.flow_slug = any(p_flow_slugs))
     order by t.priority desc, t.visible_at
     limit p_batch_size
       for update skip locked
  ), claimed as (
    update pgflow.step_tasks t
       set status = 'started', attempts_count = t.attempts_count + 1, claimed_by = p_worker_id,
           started_at = now(),
           lease_expires_at = now() + make_interval(secs => coalesce(s.opt_timeout, f.opt_timeout) + 5)
      from picked p, pgflow.steps s, pgflow.flows f
     where t.run_id = p.run_id and t.step_slug = p.step_slug and t.task_index = p.task_index
       and s.flow_slug = t.flow_slug and s.step_slug = t.step_slug and f.flow_slug = t.flow_slug
    returning t.run_id, t.flow_slug, t.step_slug, t.task_index, t.attempts_count, t.attempts_base, t.input, s.step_type,
              s.deps_count, coalesce(s.opt_timeout, f.opt_timeout) as timeout_seconds, t.lease_expires_at
  )
  select c.run_id, c.flow_slug, c.step_slug, c.task_index, c.attempts_count,
         case when c.step_type = 'map' then c.input
              when c.deps_count = 0 then jsonb_build_object('run', r.input)
              else pgflow.build_step_input(c.run_id, c.flow_slug, c.step_slug, r.input) end,
         case when c.run_id = any(p_known_runs) then null else r.input end,
         c.timeout_seconds, c.lease_expires_at, c.attempts_count - c.attempts_base
    from claimed c
    join pgflow.runs r on r.run_id = c.run_id;
end;
$$;

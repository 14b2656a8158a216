-- What down() runs: undoes 0003_signals. Frozen: never derived again from other files.
drop function pgflow.build_signal_input;
drop function pgflow.expire_runs;
drop function pgflow.expire_waits;
drop function pgflow.send_signal;
drop function pgflow.add_step(text, text, text[], text, int, int, int, int, int, jsonb, jsonb, text, text, text, int);
drop function pgflow.create_flow(text, int, int, int, int);

-- Adds a step to a flow. Dependencies must already exist, which also makes cycles
-- impossible at this level. Re-adding an existing step with the same shape updates
-- its options in place; a different shape is refused (use a new flow slug).
create or replace function pgflow.add_step(
  p_flow_slug text,
  p_step_slug text,
  p_deps text[] default '{}',
  p_map_source text default null,
  p_initial_tasks int default null,
  p_max_attempts int default null,
  p_base_delay int default null,
  p_timeout int default null,
  p_start_delay int default null,
  p_if jsonb default null,
  p_if_not jsonb default null,
  p_when_unmet text default 'skip',
  p_when_exhausted text default 'fail'
)
returns pgflow.steps
language plpgsql
as $$
declare
  v_deps text[] := coalesce((select array_agg(distinct d order by d) from unnest(p_deps) d), '{}');
  v_existing pgflow.steps;
  v_existing_deps text[];
  v_missing text;
  v_step pgflow.steps;
  v_where text := format('step "%s.%s"', p_flow_slug, p_step_slug);
begin
  perform pgflow.assert_slug('flow', p_flow_slug);
  perform pgflow.assert_slug('step', p_step_slug);
  perform pgflow.assert_options(p_flow_slug, p_step_slug, p_max_attempts, p_base_delay, p_timeout, p_start_delay);

  perform 1 from pgflow.flows where flow_slug = p_flow_slug for update;
  if not found then
    raise exception 'unknown flow "%"', p_flow_slug using errcode = 'PGF02';
  end if;

  if cardinality(v_deps) <> cardinality(p_deps) then
    raise exception '%: dependencies list a step twice', v_where using errcode = 'PGF01';
  end if;
  if p_step_slug = any(v_deps) then
    raise exception '%: a step cannot depend on itself (cycle: % -> %)', v_where, p_step_slug, p_step_slug
      using errcode = 'PGF01';
  end if;
  select d into v_missing from unnest(v_deps) d
   where not exists (select 1 from pgflow.steps s where s.flow_slug = p_flow_slug and s.step_slug = d)
     and d is distinct from p_step_slug
   limit 1;
  if v_missing is not null then
    raise exception '%: unknown dependency "%"', v_where, v_missing using errcode = 'PGF01';
  end if;
  if p_map_source is not null then
    if cardinality(v_deps) > 1 then
      raise exception '%: a map step can have at most one dependency (has %)', v_where, array_to_string(v_deps, ', ')
        using errcode = 'PGF01';
    end if;
    if p_map_source <> 'run' and not (p_map_source = any(v_deps)) then
      raise exception '%: maps over "%" but does not depend on it', v_where, p_map_source using errcode = 'PGF01';
    end if;
    if p_initial_tasks is not null then
      raise exception '%: initialTasks cannot be combined with map', v_where using errcode = 'PGF01';
    end if;
  end if;
  if p_initial_tasks is not null and p_initial_tasks < 1 then
    raise exception '%: initialTasks must be >= 1 (got %)', v_where, p_initial_tasks using errcode = 'PGF01';
  end if;
  if p_when_unmet not in ('skip', 'skip-cascade') then
    raise exception '%: whenUnmet must be skip or skip-cascade (got %)', v_where, p_when_unmet using errcode = 'PGF01';
  end if;
  if p_when_exhausted not in ('fail', 'skip', 'skip-cascade') then
    raise exception '%: whenExhausted must be fail, skip or skip-cascade (got %)', v_where, p_when_exhausted
      using errcode = 'PGF01';
  end if;
  if (p_if is not null and jsonb_typeof(p_if) <> 'object') or (p_if_not is not null and jsonb_typeof(p_if_not) <> 'object') then
    raise exception '%: if/ifNot must be JSON objects', v_where using errcode = 'PGF01';
  end if;

  select * into v_existing from pgflow.steps where flow_slug = p_flow_slug and step_slug = p_step_slug;
  if found then
    select coalesce(array_agg(dep_slug order by dep_slug), '{}') into v_existing_deps
      from pgflow.deps where flow_slug = p_flow_slug and step_slug = p_step_slug;
    if v_existing_deps <> v_deps then
      raise exception '%: dependencies changed from [%] to [%]; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, array_to_string(v_existing_deps, ', '), array_to_string(v_deps, ', '), p_flow_slug using errcode = 'PGF04';
    end if;
    if v_existing.map_source is distinct from p_map_source then
      raise exception '%: map changed from % to %; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, coalesce(v_existing.map_source, 'none'), coalesce(p_map_source, 'none'), p_flow_slug using errcode = 'PGF04';
    end if;
    if v_existing.initial_tasks is distinct from p_initial_tasks then
      raise exception '%: initialTasks changed from % to %; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, coalesce(v_existing.initial_tasks::text, 'none'), coalesce(p_initial_tasks::text, 'none'), p_flow_slug
        using errcode = 'PGF04';
    end if;
    if v_existing.condition_if is distinct from p_if or v_existing.condition_if_not is distinct from p_if_not then
      raise exception '%: conditions (if/ifNot) changed; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, p_flow_slug using errcode = 'PGF04';
    end if;
    update pgflow.steps
       set opt_max_attempts = p_max_attempts, opt_base_delay = p_base_delay, opt_timeout = p_timeout,
           opt_start_delay = p_start_delay, when_unmet = p_when_unmet, when_exhausted = p_when_exhausted
     where flow_slug = p_flow_slug and step_slug = p_step_slug
    returning * into v_step;
    return v_step;
  end if;

  if exists (select 1 from pgflow.runs r where r.flow_slug = p_flow_slug) then
    raise exception '%: flow "%" already has runs, so adding a step would change its shape; use a new flow slug (e.g. "%_v2")',
      v_where, p_flow_slug, p_flow_slug using errcode = 'PGF04';
  end if;

  insert into pgflow.steps (flow_slug, step_slug, step_index, step_type, map_source, initial_tasks, deps_count,
                            opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay,
                            condition_if, condition_if_not, when_unmet, when_exhausted)
  values (p_flow_slug, p_step_slug,
          (select count(*) from pgflow.steps where flow_slug = p_flow_slug),
          case when p_map_source is null then 'single' else 'map' end, p_map_source, p_initial_tasks,
          cardinality(v_deps), p_max_attempts, p_base_delay, p_timeout, p_start_delay,
          p_if, p_if_not, p_when_unmet, p_when_exhausted)
  returning * into v_step;

  insert into pgflow.deps (flow_slug, dep_slug, step_slug)
  select p_flow_slug, d, p_step_slug from unnest(v_deps) d;
  return v_step;
end;
$$;

-- Raises PGF01 naming the offending slug; used by every definition entry point.
create or replace function pgflow.assert_slug(p_kind text, p_slug text)
returns void
language plpgsql
immutable
as $$
begin
  if p_slug is null or p_slug !~ '^[a-zA-Z_][a-zA-Z0-9_]*$' or length(p_slug) > 128 then
    raise exception 'invalid % slug "%": must match ^[a-zA-Z_][a-zA-Z0-9_]*$ and be at most 128 characters',
      p_kind, coalesce(p_slug, '<null>') using errcode = 'PGF01';
  end if;
  if p_kind = 'step' and p_slug = 'run' then
    raise exception 'invalid step slug "run": it is reserved for the run input' using errcode = 'PGF01';
  end if;
end;
$$;

-- Cancels a run: the run, its unfinished steps and tasks become 'cancelled'; workers
-- running its tasks hear it on pgflow_runs and abort their handlers. Returns the
-- run's status afterwards ('cancelled', or the final status it already had).
create or replace function pgflow.cancel_run(p_run_id uuid)
returns text
language plpgsql
as $$
declare
  v_status text;
begin
  select status into v_status from pgflow.runs where run_id = p_run_id for no key update;
  if not found then
    raise exception 'unknown run %', p_run_id using errcode = 'PGF03';
  end if;
  if v_status in ('completed', 'failed', 'cancelled') then
    return v_status;
  end if;

  update pgflow.runs set status = 'cancelled', cancelled_at = now() where run_id = p_run_id;
  update pgflow.step_states set status = 'cancelled'
   where run_id = p_run_id and status in ('created', 'started');
  update pgflow.step_tasks set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and status in ('queued', 'started');
  perform pgflow.notify_run(p_run_id, 'cancelled');
  return 'cancelled';
end;
$$;

-- Creates a flow or, when it exists, updates its options in place (options never
-- change a flow's shape, so running runs are unaffected).
create or replace function pgflow.create_flow(
  p_flow_slug text,
  p_max_attempts int default null,
  p_base_delay int default null,
  p_timeout int default null
)
returns pgflow.flows
language plpgsql
as $$
declare
  v_flow pgflow.flows;
begin
  perform pgflow.assert_slug('flow', p_flow_slug);
  perform pgflow.assert_options(p_flow_slug, null, p_max_attempts, p_base_delay, p_timeout, null);

  insert into pgflow.flows (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout)
  values (p_flow_slug, coalesce(p_max_attempts, 3), coalesce(p_base_delay, 1), coalesce(p_timeout, 60))
  on conflict (flow_slug) do update
    set opt_max_attempts = excluded.opt_max_attempts,
        opt_base_delay = excluded.opt_base_delay,
        opt_timeout = excluded.opt_timeout
  returning * into v_flow;
  return v_flow;
end;
$$;

-- Fails a run because one of its steps failed for good: the step is failed, the
-- rest of the unfinished work is cancelled, so late results are ignored.
-- Callers hold the run's row lock.
create or replace function pgflow.fail_run(p_run_id uuid, p_step_slug text, p_task_index int, p_message text)
returns void
language plpgsql
as $$
begin
  update pgflow.runs
     set status = 'failed', failed_at = now(),
         error = jsonb_build_object('stepSlug', p_step_slug, 'taskIndex', p_task_index, 'message', p_message)
   where run_id = p_run_id;
  update pgflow.step_states
     set status = 'failed', failed_at = now(), error_message = p_message
   where run_id = p_run_id and step_slug = p_step_slug;
  update pgflow.step_states
     set status = 'cancelled'
   where run_id = p_run_id and status in ('created', 'started');
  update pgflow.step_tasks
     set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and status in ('queued', 'started');
  perform pgflow.notify_run(p_run_id, 'failed');
end;
$$;

-- Turns 'queued' runs whose start_at has passed into 'started' (their root tasks
-- became visible at that very time) and tells watchers, one NOTIFY per run.
-- Called by start_tasks before each claim; a no-op scan of a tiny partial index
-- when nothing is due.
create or replace function pgflow.promote_due_runs()
returns void
language plpgsql
as $$
declare
  v_promoted uuid[];
begin
  if not exists (select 1 from pgflow.runs q where q.status = 'queued' and q.start_at <= now()) then
    return;
  end if;
  with promoted as (
    update pgflow.runs r
       set status = 'started', started_at = now()
     where r.run_id in (select q.run_id from pgflow.runs q
                         where q.status = 'queued' and q.start_at <= now()
                         for no key update skip locked)
    returning r.run_id
  )
  select array_agg(promoted.run_id) into v_promoted from promoted;
  perform pgflow.notify_run(x, 'started') from unnest(v_promoted) x;
end;
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
  -- workers that saw the run end forget it: its tasks are wanted again
  perform pg_notify('pgflow_control', p_run_id::text || ':started');
  perform pgflow.start_ready_steps(array[p_run_id]);
  select * into v_run from pgflow.runs where run_id = p_run_id;
  return v_run;
end;
$$;

-- Starts a run: creates the run, one state per step and the root steps' tasks.
-- With p_idempotency_key, a second start of the same flow and key returns the
-- existing run (also under concurrency: the unique index arbitrates).
-- With p_start_at in the future the run stays 'queued' and its root tasks become
-- visible at that time.
create or replace function pgflow.start_flow(
  p_flow_slug text,
  p_input jsonb default '{}'::jsonb,
  p_run_id uuid default null,
  p_idempotency_key text default null,
  p_priority int default 0,
  p_start_at timestamptz default null
)
returns pgflow.runs
language plpgsql
as $$
declare
  v_flow pgflow.flows;
  v_input jsonb := coalesce(p_input, 'null'::jsonb);
  v_steps int;
  v_bad_map text;
  v_queued boolean := p_start_at is not null and p_start_at > now();
  v_run pgflow.runs;
begin
  select * into v_flow from pgflow.flows where flow_slug = p_flow_slug;
  if not found then
    raise exception 'unknown flow "%"', p_flow_slug using errcode = 'PGF02';
  end if;
  if v_flow.deprecated then
    raise exception 'flow "%" is deprecated and accepts no new runs', p_flow_slug using errcode = 'PGF06';
  end if;

  select count(*) into v_steps from pgflow.steps where flow_slug = p_flow_slug;
  if v_steps = 0 then
    raise exception 'flow "%" has no steps', p_flow_slug using errcode = 'PGF01';
  end if;

  if jsonb_typeof(v_input) <> 'array' then
    select step_slug into v_bad_map from pgflow.steps
     where flow_slug = p_flow_slug and map_source = 'run' order by step_index limit 1;
    if v_bad_map is not null then
      raise exception 'step "%.%" maps over the run input, which must be an array (got %)',
        p_flow_slug, v_bad_map, jsonb_typeof(v_input) using errcode = 'PGF05';
    end if;
  end if;

  -- No exception block here: it would open a subtransaction per run, and a bulk
  -- `select start_flow(...) from generate_series(...)` past 64 of them slows every
  -- session's snapshots (SubtransSLRU). A conflict on either unique key is sorted out below.
  insert into pgflow.runs (run_id, flow_slug, status, input, remaining_steps, priority, idempotency_key,
                           start_at, started_at)
  values (coalesce(p_run_id, gen_random_uuid()), p_flow_slug,
          case when v_queued then 'queued' else 'started' end, v_input, v_steps,
          coalesce(p_priority, 0), p_idempotency_key, p_start_at,
          case when v_queued then null else now() end)
  on conflict do nothing
  returning * into v_run;

  if v_run.run_id is null then
    if p_idempotency_key is not null then
      select * into v_run from pgflow.runs
       where flow_slug = p_flow_slug and idempotency_key = p_idempotency_key;
      if found then
        return v_run;
      end if;
    end if;
    raise exception 'run id % already exists', p_run_id using errcode = 'PGF05';
  end if;

  insert into pgflow.step_states (run_id, flow_slug, step_slug, remaining_deps)
  select v_run.run_id, s.flow_slug, s.step_slug, s.deps_count
    from pgflow.steps s where s.flow_slug = p_flow_slug;

  perform pgflow.start_ready_steps(array[v_run.run_id]);

  select * into v_run from pgflow.runs where run_id = v_run.run_id;
  return v_run;
end;
$$;

-- Starts every step of the given runs whose dependencies are all finished, wave by
-- wave: a step that finishes at once (skipped, empty map) can make its dependents
-- ready in the same call. Tasks are created set-based per step; one NOTIFY per flow.
-- Callers hold the runs' row locks. A run whose last step finishes here completes in
-- cascade_finished.
create or replace function pgflow.start_ready_steps(p_run_ids uuid[])
returns void
language plpgsql
-- planned once per session, never with a seq scan (see start_tasks)
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
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
  -- runs failed by an earlier step of this call (a map over a non-array)
  v_failed uuid[] := '{}';
begin
  loop
    v_fin_runs := '{}';
    v_fin_steps := '{}';
    for r in
      select ss.run_id, ss.step_slug, ss.flow_slug, s.step_type, s.map_source, s.initial_tasks,
             s.condition_if, s.condition_if_not, s.when_unmet, s.opt_start_delay,
             run.input as run_input, run.priority, run.start_at,
             -- a dependency finished in an earlier wave, so this holds for the whole wave
             exists (select 1 from pgflow.deps d
                       join pgflow.step_states ds on ds.run_id = ss.run_id and ds.step_slug = d.dep_slug
                      where d.flow_slug = ss.flow_slug and d.step_slug = ss.step_slug
                        and ds.status = 'skipped' and ds.skip_cascade) as cascade_skip
        from pgflow.step_states ss
        join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
        join pgflow.runs run on run.run_id = ss.run_id
       where ss.run_id = any(p_run_ids) and ss.status = 'created' and ss.remaining_deps = 0
         and run.status in ('started', 'queued')
       order by ss.run_id, s.step_index
    loop
      continue when r.run_id = any(v_failed);

      if r.cascade_skip then
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
          v_failed := v_failed || r.run_id;
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

  if current_setting('pgflow.claiming', true) = 'on' then
    -- complete_tasks_and_claim claims next in this transaction and tells the other
    -- workers only about what its claim leaves (slugs hold no commas)
    perform set_config('pgflow.ready_flows',
      concat_ws(',', nullif(current_setting('pgflow.ready_flows', true), ''), array_to_string(v_notify, ',')), true);
  else
    perform pg_notify('pgflow_tasks', f) from unnest(v_notify) f;
  end if;
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
-- Planned once per session: a custom plan (the default here, since one knows
-- p_batch_size) took longer to make than the claim takes to run. The tasks are found
-- by ctid, so the generic plan is as good as a custom one. And never by a seq scan: a
-- plan made while the tables were nearly empty (a fresh database, where a seq scan is
-- cheapest) would be kept while they grow, and every claim would read all history.
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
as $$
declare
  v_expired boolean;
  v_due boolean;
begin
  -- A claim need not wait for its WAL flush: should Postgres crash first, the claim
  -- is lost and the task is simply queued again (handlers run at least once; a result
  -- of the lost attempt is discarded as stale or accepted for the same attempt, never
  -- twice). Results stay synchronous (complete_tasks_and_claim switches back), and
  -- the next synchronous commit flushes every claim before it.
  perform set_config('synchronous_commit', 'off', true);

  -- both checks are scans of tiny partial indexes that almost always find nothing
  select exists (select 1 from pgflow.step_tasks t where t.status = 'started' and t.lease_expires_at <= now()),
         exists (select 1 from pgflow.runs q where q.status = 'queued' and q.start_at <= now())
    into v_expired, v_due;
  if v_expired then
    perform pgflow.reclaim_expired_tasks(100);
  end if;
  if v_due then
    perform pgflow.promote_due_runs();
  end if;

  return query
  with claimed as (
    update pgflow.step_tasks t
       set status = 'started', attempts_count = t.attempts_count + 1, claimed_by = p_worker_id,
           started_at = now(),
           lease_expires_at = now() + make_interval(secs => coalesce(s.opt_timeout, f.opt_timeout) + 5)
      from pgflow.steps s, pgflow.flows f
     where t.ctid = any(array(
             select q.ctid from pgflow.step_tasks q
              where q.status = 'queued' and q.visible_at <= now()
                and (p_flow_slugs is null or q.flow_slug = any(p_flow_slugs))
              order by q.priority desc, q.visible_at
              limit p_batch_size
                for update skip locked))
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

-- undo schema.sql
drop type pgflow.sent_signal;
drop table pgflow.signals;
drop index pgflow.step_states_wait_idx;
alter table pgflow.step_states drop column wait_expires_at;
alter table pgflow.step_states drop constraint step_states_status_check;
update pgflow.step_states set status = 'cancelled' where status = 'waiting';
alter table pgflow.step_states
  add constraint step_states_status_check
    check (status in ('created', 'started', 'completed', 'failed', 'skipped', 'cancelled'));
drop index pgflow.runs_timeout_idx;
alter table pgflow.runs drop column timeout_at;
drop index pgflow.steps_signal_idx;
alter table pgflow.steps drop constraint steps_signal_timeout_check;
alter table pgflow.steps drop column opt_signal_timeout, drop column signal_name;
alter table pgflow.flows drop column opt_run_timeout;

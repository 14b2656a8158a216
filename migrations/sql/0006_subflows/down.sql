-- What down() runs: undoes 0006_subflows. Frozen: never derived again from other files.
drop function pgflow.add_step(text, text, text[], text, int, int, int, int, int, jsonb, jsonb, text, text, text, int, text, boolean);
drop function pgflow.start_flow(text, jsonb, uuid, text, int, timestamptz, text, uuid, text, int);
drop function pgflow.cancel_run(uuid, boolean);
alter type pgflow.claimed_task drop attribute compensation;
-- runs and tasks in the new statuses have no meaning before this migration
delete from pgflow.runs where status in ('compensating', 'compensation_failed');
update pgflow.step_tasks set status = 'started' where status = 'waiting';
alter table pgflow.step_tasks drop constraint step_tasks_status_check;
alter table pgflow.step_tasks
  add constraint step_tasks_status_check check (status in ('queued', 'started', 'completed', 'failed', 'cancelled')),
  drop column compensation;
drop index pgflow.runs_parent_idx;
alter table pgflow.runs drop constraint runs_status_check;
alter table pgflow.runs
  add constraint runs_status_check check (status in ('queued', 'started', 'completed', 'failed', 'cancelled')),
  drop column parent_run_id, drop column parent_step_slug, drop column parent_task_index,
  drop column compensation_reason;
alter table pgflow.steps drop column subflow_slug, drop column compensate;
drop function pgflow.begin_compensation;
drop function pgflow.cancel_children;
drop function pgflow.complete_compensations;
drop function pgflow.fail_compensation;
drop function pgflow.schedule_compensations;
drop function pgflow.settle_parents;
drop function pgflow.start_child_runs;

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
  p_when_exhausted text default 'fail',
  p_signal text default null,
  p_signal_timeout int default null
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
  v_other text;
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
  if p_signal is not null and (p_signal !~ '^[a-zA-Z_][a-zA-Z0-9_]*$' or length(p_signal) > 128) then
    raise exception '%: invalid signal name "%": must match ^[a-zA-Z_][a-zA-Z0-9_]*$ and be at most 128 characters',
      v_where, p_signal using errcode = 'PGF01';
  end if;
  if p_signal_timeout is not null and p_signal_timeout < 1 then
    raise exception '%: signalTimeout must be >= 1 (got %)', v_where, p_signal_timeout using errcode = 'PGF01';
  end if;
  if p_signal_timeout is not null and p_signal is null then
    raise exception '%: signalTimeout needs signal', v_where using errcode = 'PGF01';
  end if;
  select s.step_slug into v_other from pgflow.steps s
   where s.flow_slug = p_flow_slug and s.signal_name = p_signal and s.step_slug <> p_step_slug;
  if v_other is not null then
    raise exception '%: signal "%" is already waited on by step "%" (one step per signal name)',
      v_where, p_signal, v_other using errcode = 'PGF01';
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
    if v_existing.signal_name is distinct from p_signal then
      raise exception '%: signal changed from % to %; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, coalesce(v_existing.signal_name, 'none'), coalesce(p_signal, 'none'), p_flow_slug using errcode = 'PGF04';
    end if;
    update pgflow.steps
       set opt_signal_timeout = p_signal_timeout,
           opt_max_attempts = p_max_attempts, opt_base_delay = p_base_delay, opt_timeout = p_timeout,
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
                            condition_if, condition_if_not, when_unmet, when_exhausted, signal_name, opt_signal_timeout)
  values (p_flow_slug, p_step_slug,
          (select count(*) from pgflow.steps where flow_slug = p_flow_slug),
          case when p_map_source is null then 'single' else 'map' end, p_map_source, p_initial_tasks,
          cardinality(v_deps), p_max_attempts, p_base_delay, p_timeout, p_start_delay,
          p_if, p_if_not, p_when_unmet, p_when_exhausted, p_signal, p_signal_timeout)
  returning * into v_step;

  insert into pgflow.deps (flow_slug, dep_slug, step_slug)
  select p_flow_slug, d, p_step_slug from unnest(v_deps) d;
  return v_step;
end;
$$;

-- Cancels a run: the run, its unfinished (also waiting) steps and tasks become 'cancelled'; workers
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

  update pgflow.runs set status = 'cancelled', cancelled_at = now(), timeout_at = null where run_id = p_run_id;
  update pgflow.step_states set status = 'cancelled', wait_expires_at = null
   where run_id = p_run_id and status in ('created', 'waiting', 'started');
  update pgflow.step_tasks set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and status in ('queued', 'started');
  perform pgflow.notify_run(p_run_id, 'cancelled');
  return 'cancelled';
end;
$$;

-- Bookkeeping after steps finished (completed or skipped): their dependents have one
-- dependency less and each run one step less. Callers hold the runs' row locks.
-- A run whose last step this was completes in the same update: one new row version
-- (and one set of index entries) per finished run instead of two.
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
    returning r.run_id, c.last
  )
  select array_agg(upd.run_id) filter (where upd.last) into v_done from upd;
  perform pgflow.notify_run(d, 'completed') from unnest(v_done) d;
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
begin
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'complete_tasks expects a JSON array of results' using errcode = 'PGF05';
  end if;

  -- one lock per run, always in run_id order: serializes every state change of a run
  perform 1 from pgflow.runs r
   where r.run_id in (select (x->>'run_id')::uuid from jsonb_array_elements(p_results) x)
   order by r.run_id for no key update;

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

-- Runs whose runTimeout passed before they finished fail with "run timed out after
-- <n> s" (error.stepSlug: an unfinished step, a running or waiting one first); every
-- unfinished step and task is cancelled, and workers running its tasks abort them on
-- the 'failed' notification. Called by start_tasks when a deadline is due, like
-- expire_waits; locked runs are passed over.
create or replace function pgflow.expire_runs(p_limit int default 100)
returns int
language plpgsql
as $$
declare
  r record;
  v_step text;
  v_seconds int;
  v_message text;
  v_count int := 0;
begin
  for r in
    select x.run_id
      from (select q.run_id from pgflow.runs q
             where q.status = 'started' and q.timeout_at <= now()
             order by q.timeout_at
             limit p_limit) x
     order by x.run_id
  loop
    select f.opt_run_timeout into v_seconds
      from pgflow.runs q join pgflow.flows f on f.flow_slug = q.flow_slug
     where q.run_id = r.run_id and q.status = 'started' and q.timeout_at <= now()
       for no key update of q skip locked;
    continue when not found;
    v_message := format('run timed out after %s s', v_seconds);

    select ss.step_slug into v_step
      from pgflow.step_states ss
      join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
     where ss.run_id = r.run_id and ss.status in ('started', 'waiting', 'created')
     order by ss.status = 'created', s.step_index
     limit 1;

    update pgflow.runs
       set status = 'failed', failed_at = now(), timeout_at = null,
           error = jsonb_build_object('stepSlug', v_step, 'taskIndex', 0, 'message', v_message)
     where run_id = r.run_id;
    update pgflow.step_states
       set status = 'cancelled', wait_expires_at = null
     where run_id = r.run_id and status in ('created', 'waiting', 'started');
    update pgflow.step_tasks
       set status = 'cancelled', lease_expires_at = null
     where run_id = r.run_id and status in ('queued', 'started');
    perform pgflow.notify_run(r.run_id, 'failed');
    v_count := v_count + 1;
  end loop;
  return v_count;
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
     set status = 'failed', failed_at = now(), timeout_at = null,
         error = jsonb_build_object('stepSlug', p_step_slug, 'taskIndex', p_task_index, 'message', p_message)
   where run_id = p_run_id;
  update pgflow.step_states
     set status = 'failed', failed_at = now(), error_message = p_message, wait_expires_at = null
   where run_id = p_run_id and step_slug = p_step_slug;
  update pgflow.step_states
     set status = 'cancelled', wait_expires_at = null
   where run_id = p_run_id and status in ('created', 'waiting', 'started');
  update pgflow.step_tasks
     set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and status in ('queued', 'started');
  perform pgflow.notify_run(p_run_id, 'failed');
end;
$$;

-- Records a failed attempt. Returns 'retrying' (queued again after
-- base_delay * 2^(attempt-1) seconds, capped at one hour), 'failed' (attempts
-- exhausted or non-retryable: the run fails), 'skipped' (exhausted and the step's
-- whenExhausted skips it) or 'ignored' (stale attempt, finished task or run).
-- Every failed attempt is kept in attempt_history (its error, timings and worker; the
-- last 20), since error_message holds only the latest one.
create or replace function pgflow.fail_task(
  p_run_id uuid,
  p_step_slug text,
  p_task_index int,
  p_attempt int,
  p_error text,
  p_non_retryable boolean default false
)
returns text
language plpgsql
as $$
declare
  v_run_status text;
  v_task record;
  v_delay numeric;
  v_n int; -- this attempt's number within the task's current budget
begin
  select status into v_run_status from pgflow.runs where run_id = p_run_id for no key update;
  if v_run_status is null or v_run_status not in ('started', 'queued') then
    return 'ignored';
  end if;

  select t.status, t.attempts_count, t.attempts_base, t.flow_slug,
         coalesce(s.opt_max_attempts, f.opt_max_attempts) as max_attempts,
         coalesce(s.opt_base_delay, f.opt_base_delay) as base_delay,
         s.when_exhausted
    into v_task
    from pgflow.step_tasks t
    join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
    join pgflow.flows f on f.flow_slug = t.flow_slug
   where t.run_id = p_run_id and t.step_slug = p_step_slug and t.task_index = p_task_index
     for update of t;
  if not found or v_task.status <> 'started' or v_task.attempts_count <> p_attempt then
    return 'ignored';
  end if;

  v_n := p_attempt - v_task.attempts_base;

  if not coalesce(p_non_retryable, false) and v_n < v_task.max_attempts then
    v_delay := least(v_task.base_delay * power(2::numeric, v_n - 1), 3600);
    update pgflow.step_tasks
       set attempt_history = pgflow.append_attempt(attempt_history, jsonb_build_object(
             'attempt', v_n, 'error', p_error, 'startedAt', started_at, 'endedAt', now(), 'workerId', claimed_by)),
           status = 'queued', visible_at = now() + make_interval(secs => v_delay::double precision),
           error_message = p_error, claimed_by = null, lease_expires_at = null, failed_at = now()
     where run_id = p_run_id and step_slug = p_step_slug and task_index = p_task_index;
    if v_delay = 0 then
      perform pg_notify('pgflow_tasks', v_task.flow_slug);
    end if;
    return 'retrying';
  end if;

  update pgflow.step_tasks
     set attempt_history = pgflow.append_attempt(attempt_history, jsonb_build_object(
           'attempt', v_n, 'error', p_error, 'startedAt', started_at, 'endedAt', now(), 'workerId', claimed_by)),
         status = 'failed', error_message = p_error, failed_at = now(), lease_expires_at = null
   where run_id = p_run_id and step_slug = p_step_slug and task_index = p_task_index;

  if v_task.when_exhausted = 'fail' then
    perform pgflow.fail_run(p_run_id, p_step_slug, p_task_index, p_error);
    return 'failed';
  end if;

  update pgflow.step_states
     set status = 'skipped', skip_cascade = (v_task.when_exhausted = 'skip-cascade'),
         error_message = p_error, completed_at = now()
   where run_id = p_run_id and step_slug = p_step_slug;
  update pgflow.step_tasks
     set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and step_slug = p_step_slug and status in ('queued', 'started');
  perform pgflow.cascade_finished(array[p_run_id], array[p_step_slug]);
  perform pgflow.start_ready_steps(array[p_run_id]);
  return 'skipped';
end;
$$;

-- Run events. Every change goes out on pgflow_runs, for waitForRun/watchRun, and only
-- processes that watch runs LISTEN there. Workers LISTEN on pgflow_control, which
-- carries only what a running handler must react to: its run was cancelled or failed
-- (abort), or resumed. Before, every run completion woke every worker.
-- Postgres folds identical payloads within a transaction, so many step changes of one
-- run cost a single notification.
-- PL/pgSQL rather than SQL: it is called in every completion, and a SQL function is
-- planned again by each query that calls it.
create or replace function pgflow.notify_run(p_run_id uuid, p_status text)
returns void
language plpgsql
as $$
begin
  perform pg_notify('pgflow_runs', p_run_id::text || ':' || p_status);
  if p_status in ('cancelled', 'failed') then
    perform pg_notify('pgflow_control', p_run_id::text || ':' || p_status);
  end if;
end;
$$;

-- Resumes a failed or cancelled run. Completed steps and completed map elements
-- keep their outputs and never run again; failed and cancelled tasks are queued
-- with a fresh attempt budget (attempts_base); steps that never started wait for
-- their dependencies again (a wait that timed out waits again, with a fresh
-- signalTimeout), and a runTimeout counts afresh from the resume.
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
         timeout_at = now() + (select make_interval(secs => f.opt_run_timeout)
                                 from pgflow.flows f where f.flow_slug = r.flow_slug),
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
-- visible at that time. A flow's runTimeout counts from the run's start (timeout_at).
-- p_traceparent: the W3C trace context of the span that started the run, stored so
-- every attempt's span joins that trace in whichever process runs it.
create or replace function pgflow.start_flow(
  p_flow_slug text,
  p_input jsonb default '{}'::jsonb,
  p_run_id uuid default null,
  p_idempotency_key text default null,
  p_priority int default 0,
  p_start_at timestamptz default null,
  p_traceparent text default null
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
                           start_at, started_at, timeout_at, traceparent)
  values (coalesce(p_run_id, gen_random_uuid()), p_flow_slug,
          case when v_queued then 'queued' else 'started' end, v_input, v_steps,
          coalesce(p_priority, 0), p_idempotency_key, p_start_at,
          case when v_queued then null else now() end,
          case when v_queued then null else now() + make_interval(secs => v_flow.opt_run_timeout) end,
          p_traceparent)
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

-- Claims up to p_batch_size visible queued tasks of the given flows (null: any flow),
-- highest priority first, with FOR UPDATE SKIP LOCKED so concurrent workers never
-- get the same task. Each claim counts an attempt and takes a lease of
-- p_lease_seconds, which the worker renews while the handler runs (its heartbeat), so a
-- dead worker's task comes back within about a lease whatever the step's timeout. Returns each task with its built input. `attempt` identifies
-- the attempt (results must echo it); `attempt_number` is its 1-based number since the
-- run was last resumed, what handlers see as ctx.attempt.
-- p_known_runs: runs whose input the caller already holds (a run's input never
-- changes); their run_input comes back null. A map step's tasks all carry the same,
-- possibly large, run input, and shipping and parsing it per task was W3's cost.
create or replace function pgflow.start_tasks(p_flow_slugs text[], p_worker_id text, p_batch_size int,
                                              p_known_runs uuid[] default null, p_lease_seconds int default 30)
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
  v_waits_due boolean;
  v_runs_due boolean;
begin
  -- A claim need not wait for its WAL flush: should Postgres crash first, the claim
  -- is lost and the task is simply queued again (handlers run at least once; a result
  -- of the lost attempt is discarded as stale or accepted for the same attempt, never
  -- twice). Results stay synchronous (complete_tasks_and_claim switches back), and
  -- the next synchronous commit flushes every claim before it.
  perform set_config('synchronous_commit', 'off', true);

  -- each check reads the first entry of a small partial index and almost always finds
  -- nothing due: waits and run deadlines far in the future cost one index probe, however many
  select exists (select 1 from pgflow.step_tasks t where t.status = 'started' and t.lease_expires_at <= now()),
         exists (select 1 from pgflow.runs q where q.status = 'queued' and q.start_at <= now()
                   and q.started_at is null and q.failed_at is null and q.cancelled_at is null),
         exists (select 1 from pgflow.step_states w where w.wait_expires_at <= now()),
         exists (select 1 from pgflow.runs q where q.status = 'started' and q.timeout_at <= now())
    into v_expired, v_due, v_waits_due, v_runs_due;
  if v_runs_due then
    perform pgflow.expire_runs(100);
  end if;
  if v_waits_due then
    perform pgflow.expire_waits(100);
  end if;
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
           lease_expires_at = now() + make_interval(secs => greatest(coalesce(p_lease_seconds, 30), 1))
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
              s.deps_count, coalesce(s.opt_timeout, f.opt_timeout) as timeout_seconds, t.lease_expires_at,
              s.signal_name
  )
  select c.run_id, c.flow_slug, c.step_slug, c.task_index, c.attempts_count,
         case when c.signal_name is not null
                then pgflow.build_signal_input(c.run_id, c.flow_slug, c.step_slug, c.step_type, c.input, r.input)
              when c.step_type = 'map' then c.input
              when c.deps_count = 0 then jsonb_build_object('run', r.input)
              else pgflow.build_step_input(c.run_id, c.flow_slug, c.step_slug, r.input) end,
         case when c.run_id = any(p_known_runs) then null else r.input end,
         c.timeout_seconds, c.lease_expires_at, c.attempts_count - c.attempts_base, r.traceparent
    from claimed c
    join pgflow.runs r on r.run_id = c.run_id;
end;
$$;

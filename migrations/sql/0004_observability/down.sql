-- What down() runs: undoes 0004_observability. Frozen: never derived again from other files.
drop function pgflow.append_attempt;
drop function pgflow.start_tasks(text[], text, int, uuid[], int);
drop function pgflow.complete_tasks_and_claim(jsonb, text[], text, int, uuid[], int);
drop function pgflow.start_flow(text, jsonb, uuid, text, int, timestamptz, text);
alter type pgflow.claimed_task drop attribute traceparent;
alter table pgflow.runs drop column traceparent;
alter table pgflow.step_tasks drop column progress, drop column attempt_history;

-- complete_tasks then start_tasks in one transaction and one round trip: what a
-- worker with results to report and free slots would otherwise send as two calls.
-- A result's follow-up task (the next step of a chain) is claimed in the same call
-- instead of after a NOTIFY and another query, and the NOTIFY for it goes out only if
-- the claim left it: otherwise every listening worker would wake and claim nothing.
create or replace function pgflow.complete_tasks_and_claim(
  p_results jsonb, p_flow_slugs text[], p_worker_id text, p_batch_size int, p_known_runs uuid[] default null
)
returns setof pgflow.claimed_task
language plpgsql
as $$
declare
  v_sync text := current_setting('synchronous_commit');
begin
  if p_batch_size <= 0 then
    perform 1 from pgflow.complete_tasks(p_results);
    return;
  end if;
  perform set_config('pgflow.claiming', 'on', true);
  perform set_config('pgflow.ready_flows', '', true);
  perform 1 from pgflow.complete_tasks(p_results);
  perform set_config('pgflow.claiming', '', true);

  return query select * from pgflow.start_tasks(p_flow_slugs, p_worker_id, p_batch_size, p_known_runs);
  -- start_tasks made the commit asynchronous; this one carries results
  perform set_config('synchronous_commit', v_sync, true);

  perform pg_notify('pgflow_tasks', f.slug)
     from (select distinct x as slug
             from unnest(string_to_array(nullif(current_setting('pgflow.ready_flows'), ''), ',')) x) f
    where exists (select 1 from pgflow.step_tasks t
                   where t.status = 'queued' and t.visible_at <= now() and t.flow_slug = f.slug);
end;
$$;

-- Records a failed attempt. Returns 'retrying' (queued again after
-- base_delay * 2^(attempt-1) seconds, capped at one hour), 'failed' (attempts
-- exhausted or non-retryable: the run fails), 'skipped' (exhausted and the step's
-- whenExhausted skips it) or 'ignored' (stale attempt, finished task or run).
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
       set status = 'queued', visible_at = now() + make_interval(secs => v_delay::double precision),
           error_message = p_error, claimed_by = null, lease_expires_at = null, failed_at = now()
     where run_id = p_run_id and step_slug = p_step_slug and task_index = p_task_index;
    if v_delay = 0 then
      perform pg_notify('pgflow_tasks', v_task.flow_slug);
    end if;
    return 'retrying';
  end if;

  update pgflow.step_tasks
     set status = 'failed', error_message = p_error, failed_at = now(), lease_expires_at = null
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

-- Starts a run: creates the run, one state per step and the root steps' tasks.
-- With p_idempotency_key, a second start of the same flow and key returns the
-- existing run (also under concurrency: the unique index arbitrates).
-- With p_start_at in the future the run stays 'queued' and its root tasks become
-- visible at that time. A flow's runTimeout counts from the run's start (timeout_at).
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
                           start_at, started_at, timeout_at)
  values (coalesce(p_run_id, gen_random_uuid()), p_flow_slug,
          case when v_queued then 'queued' else 'started' end, v_input, v_steps,
          coalesce(p_priority, 0), p_idempotency_key, p_start_at,
          case when v_queued then null else now() end,
          case when v_queued then null else now() + make_interval(secs => v_flow.opt_run_timeout) end)
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
         exists (select 1 from pgflow.runs q where q.status = 'queued' and q.start_at <= now()),
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
         c.timeout_seconds, c.lease_expires_at, c.attempts_count - c.attempts_base
    from claimed c
    join pgflow.runs r on r.run_id = c.run_id;
end;
$$;

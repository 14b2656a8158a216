-- What down() runs: undoes 0007_flow_control. Frozen: never derived again from other files.
drop function pgflow.bucket_room;
drop function pgflow.limit_buckets;
drop function pgflow.limit_key;
drop function pgflow.set_flow_control;

-- Starts a run: creates the run, one state per step and the root steps' tasks.
-- With p_idempotency_key, a second start of the same flow and key returns the
-- existing run (also under concurrency: the unique index arbitrates).
-- With p_start_at in the future the run stays 'queued' and its root tasks become
-- visible at that time. A flow's runTimeout counts from the run's start (timeout_at).
-- p_traceparent: the W3C trace context of the span that started the run, stored so
-- every attempt's span joins that trace in whichever process runs it.
-- p_parent_*: the task of a subflow step this run is the child of (start_child_runs).
create or replace function pgflow.start_flow(
  p_flow_slug text,
  p_input jsonb default '{}'::jsonb,
  p_run_id uuid default null,
  p_idempotency_key text default null,
  p_priority int default 0,
  p_start_at timestamptz default null,
  p_traceparent text default null,
  p_parent_run_id uuid default null,
  p_parent_step_slug text default null,
  p_parent_task_index int default null
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

  select count(*), min(sub.flow_slug) filter (where sub.deprecated) into v_steps, v_bad_map
    from pgflow.steps s left join pgflow.flows sub on sub.flow_slug = s.subflow_slug
   where s.flow_slug = p_flow_slug;
  if v_bad_map is not null then
    raise exception 'flow "%" runs subflow "%", which is deprecated and accepts no new runs', p_flow_slug, v_bad_map
      using errcode = 'PGF06';
  end if;
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
                           start_at, started_at, timeout_at, traceparent,
                           parent_run_id, parent_step_slug, parent_task_index)
  values (coalesce(p_run_id, gen_random_uuid()), p_flow_slug,
          case when v_queued then 'queued' else 'started' end, v_input, v_steps,
          coalesce(p_priority, 0), p_idempotency_key, p_start_at,
          case when v_queued then null else now() end,
          case when v_queued then null else now() + make_interval(secs => v_flow.opt_run_timeout) end,
          p_traceparent, p_parent_run_id, p_parent_step_slug, p_parent_task_index)
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
  v_signal text;
  v_consumed boolean;
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
             s.signal_name, s.opt_signal_timeout,
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

      if r.signal_name is not null then
        -- the signal this step's wait already took (a resumed run), else the oldest
        -- buffered one; none: the step waits, holding no task, until send_signal
        select sg.signal_id, sg.consumed_by is not null into v_signal, v_consumed
          from pgflow.signals sg
         where sg.run_id = r.run_id and sg.name = r.signal_name
           and (sg.consumed_by is null or sg.consumed_by = r.step_slug)
         order by sg.consumed_by is null, sg.created_at, sg.signal_id
         limit 1;
        if v_signal is null then
          update pgflow.step_states
             set status = 'waiting',
                 wait_expires_at = greatest(now(), coalesce(r.start_at, now()))
                                   + make_interval(secs => r.opt_signal_timeout)
           where run_id = r.run_id and step_slug = r.step_slug;
          continue;
        end if;
        if not v_consumed then
          update pgflow.signals sg set consumed_by = r.step_slug, consumed_at = now()
           where sg.run_id = r.run_id and sg.name = r.signal_name and sg.signal_id = v_signal;
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
-- get the same task. Each claim counts an attempt and takes a lease of
-- p_lease_seconds, which the worker renews while the handler runs (its heartbeat), so a
-- dead worker's task comes back within about a lease whatever the step's timeout. Returns each task with its built input. `attempt` identifies
-- the attempt (results must echo it); `attempt_number` is its 1-based number since the
-- run was last resumed, what handlers see as ctx.attempt. A compensation task (the
-- run failed or was cancelled) comes with its reason and the task's output as input.
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
              s.signal_name, t.compensation, t.output
  )
  select c.run_id, c.flow_slug, c.step_slug, c.task_index, c.attempts_count,
         case when c.compensation is not null then c.output
              when c.signal_name is not null
                then pgflow.build_signal_input(c.run_id, c.flow_slug, c.step_slug, c.step_type, c.input, r.input)
              when c.step_type = 'map' then c.input
              when c.deps_count = 0 then jsonb_build_object('run', r.input)
              else pgflow.build_step_input(c.run_id, c.flow_slug, c.step_slug, r.input) end,
         case when c.run_id = any(p_known_runs) then null else r.input end,
         c.timeout_seconds, c.lease_expires_at, c.attempts_count - c.attempts_base, r.traceparent,
         case when c.compensation is not null then r.compensation_reason end
    from claimed c
    join pgflow.runs r on r.run_id = c.run_id;
end;
$$;

drop function pgflow.start_flow(text, jsonb, uuid, text, int, timestamptz, text, uuid, text, int, text);
drop sequence pgflow.claim_turns;
drop table pgflow.limit_starts;
drop index pgflow.step_tasks_queued_idx;
create index step_tasks_queued_idx on pgflow.step_tasks (priority desc, visible_at)
  include (flow_slug) where status = 'queued';
alter table pgflow.step_tasks drop column limit_key;
alter table pgflow.runs drop column concurrency_key;
alter table pgflow.steps drop column opt_concurrency, drop column opt_concurrency_key, drop column opt_rate_limit,
  drop column opt_rate_period, drop column opt_rate_key;
alter table pgflow.flows drop column opt_concurrency, drop column opt_concurrency_key, drop column opt_rate_limit,
  drop column opt_rate_period, drop column opt_rate_key, drop column limited;

-- What down() runs: undoes 0009_claim_order. Frozen: never derived again from other files.

-- The limit buckets a task with this limit_key counts in, with their current limits
-- (read from the definitions, so a changed limit applies at the next claim): the
-- step (null: a flow-level limit) and which value of the key array (and its value,
-- '' for none) the bucket is of (key_index null: the limit has no key).
create or replace function pgflow.limit_buckets(p_flow_slug text, p_limit_key text)
returns table (bucket text, is_rate boolean, lim int, period int, step_slug text, key_index int, key_value text)
language plpgsql
stable
as $$
declare
  v_step text := split_part(p_limit_key, ':', 1);
  v_keys jsonb := substr(p_limit_key, length(v_step) + 2)::jsonb;
begin
  return query
  select b.flow || '|' || coalesce(b.step, '') || case when b.is_rate then '|r|' else '|c|' end || b.val,
         b.is_rate, b.lim, b.period, b.step, b.idx, b.val
    from pgflow.flows f
    join pgflow.steps s on s.flow_slug = f.flow_slug and s.step_slug = v_step
   cross join lateral (values
     (f.flow_slug, null::text, false, f.opt_concurrency, null::int,
      case when f.opt_concurrency_key is not null then 0 end, coalesce(v_keys->>0, '')),
     (f.flow_slug, null::text, true, f.opt_rate_limit, f.opt_rate_period,
      case when f.opt_rate_key is not null then 1 end, coalesce(v_keys->>1, '')),
     (f.flow_slug, s.step_slug, false, s.opt_concurrency, null::int,
      case when s.opt_concurrency_key is not null then 2 end, coalesce(v_keys->>2, '')),
     (f.flow_slug, s.step_slug, true, s.opt_rate_limit, s.opt_rate_period,
      case when s.opt_rate_key is not null then 3 end, coalesce(v_keys->>3, ''))
   ) as b(flow, step, is_rate, lim, period, idx, val)
   where f.flow_slug = p_flow_slug and b.lim is not null
   order by 1;
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
             run.input as run_input, run.priority, run.start_at, run.started_at,
             case when fl.limited then pgflow.limit_key(fl, s, run.input, run.concurrency_key) else '' end as limit_key,
             -- a dependency finished in an earlier wave, so this holds for the whole wave
             exists (select 1 from pgflow.deps d
                       join pgflow.step_states ds on ds.run_id = ss.run_id and ds.step_slug = d.dep_slug
                      where d.flow_slug = ss.flow_slug and d.step_slug = ss.step_slug
                        and ds.status = 'skipped' and ds.skip_cascade) as cascade_skip
        from pgflow.step_states ss
        join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
        join pgflow.runs run on run.run_id = ss.run_id
        join pgflow.flows fl on fl.flow_slug = ss.flow_slug
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

      -- A task ready now is visible from its run's start, so claims (in visible_at
      -- order) take older runs' tasks first and runs finish in the order they started
      -- instead of all at the end of a backlog. Delayed tasks wait as long as asked.
      v_visible := case when coalesce(r.opt_start_delay, 0) = 0 and coalesce(r.start_at, now()) <= now()
                          then least(now(), coalesce(r.started_at, now()))
                        else greatest(now(), coalesce(r.start_at, now()))
                             + make_interval(secs => coalesce(r.opt_start_delay, 0)) end;

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
        insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, priority, visible_at, input, limit_key)
        select r.run_id, r.flow_slug, r.step_slug, (e.ord - 1)::int, r.priority, v_visible, e.value, r.limit_key
          from jsonb_array_elements(v_source) with ordinality as e(value, ord);
      else
        v_n := coalesce(r.initial_tasks, 1);
        insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, priority, visible_at, limit_key)
        select r.run_id, r.flow_slug, r.step_slug, g, r.priority, v_visible, r.limit_key
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
-- get the same task. Within a priority, claims are shared round-robin among the flows
-- with ready tasks (and among the limit keys of a flow), so a big backlog of one never
-- starves another; within a flow the oldest runs' tasks come first (start_ready_steps
-- makes a ready task visible from its run's start). Tasks of limited flows are claimed
-- only while every bucket they count in (concurrency slots, sliding-window rate)
-- has room; held-back tasks stay queued. Each claim counts an attempt and takes a lease of
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
  v_limited boolean;
  -- which flow (and which key of a flow) goes first: it turns with every claim
  v_turn bigint := nextval('pgflow.claim_turns');
  v_start timestamptz := now();
  v_chosen tid[];
  -- candidates of limited flows, admitted by their buckets
  v_ctid tid[] := '{}';
  v_flow text[] := '{}';
  v_grp text[] := '{}';
  v_prio int[] := '{}';
  v_vis timestamptz[] := '{}';
  v_room jsonb := '{}';
  v_locked boolean := false;
  v_clock timestamptz;
  v_groups text[];
  v_key text;
  v_per int;
  v_off int;
  v_taken int;
  v_want int;
  v_got int;
  v_blocked boolean;
  v_names text[];
  -- a claimed task counts in a rate bucket: its start is recorded
  v_rated boolean := false;
  v_c_ctid tid[];
  v_c_prio int[];
  v_c_vis timestamptz[];
  v_f record;
  v_b record;
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
         exists (select 1 from pgflow.runs q where q.status = 'started' and q.timeout_at <= now()),
         exists (select 1 from pgflow.flows l where l.limited and (p_flow_slugs is null or l.flow_slug = any(p_flow_slugs)))
    into v_expired, v_due, v_waits_due, v_runs_due, v_limited;
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

  if v_limited then
    v_clock := clock_timestamp();
    for v_f in
      select l.flow_slug from pgflow.flows l
       where l.limited and (p_flow_slugs is null or l.flow_slug = any(p_flow_slugs))
       order by l.flow_slug
    loop
      -- the flow's distinct limit keys with queued tasks: a skip scan of the queued index
      v_groups := array(
        with recursive g(k) as (
          (select q.limit_key from pgflow.step_tasks q
            where q.status = 'queued' and q.flow_slug = v_f.flow_slug and q.limit_key > ''
            order by q.limit_key limit 1)
          union all
          select (select q.limit_key from pgflow.step_tasks q
                   where q.status = 'queued' and q.flow_slug = v_f.flow_slug and q.limit_key > g.k
                   order by q.limit_key limit 1)
            from g where g.k is not null
        )
        select g.k from g where g.k is not null);
      continue when coalesce(cardinality(v_groups), 0) = 0;
      -- each key gets an equal share of the batch, starting from a rotating one
      v_per := greatest(1, ceil(p_batch_size::numeric / cardinality(v_groups))::int);
      v_off := v_turn % cardinality(v_groups);
      v_taken := 0;
      for i in 0 .. cardinality(v_groups) - 1 loop
        exit when v_taken >= p_batch_size;
        v_key := v_groups[1 + (v_off + i) % cardinality(v_groups)];
        v_want := least(v_per, p_batch_size - v_taken);
        v_blocked := false;
        v_names := '{}';
        for v_b in select * from pgflow.limit_buckets(v_f.flow_slug, v_key) loop
          v_names := v_names || v_b.bucket;
          v_rated := v_rated or v_b.is_rate;
          if not v_room ? v_b.bucket then
            -- Only the first bucket lock is waited for: a claimer waiting holds no other
            -- bucket, and one holding buckets never waits, so claimers cannot deadlock.
            -- A later bucket held by another claimer is passed over for this claim.
            if not v_locked then
              perform pg_advisory_xact_lock(hashtextextended(v_b.bucket, 0));
              v_locked := true;
              v_clock := clock_timestamp();
            elsif not pg_try_advisory_xact_lock(hashtextextended(v_b.bucket, 0)) then
              v_blocked := true;
              exit;
            end if;
            v_room := v_room || jsonb_build_object(v_b.bucket, pgflow.bucket_room(v_f.flow_slug, v_b.bucket,
              v_b.is_rate, v_b.lim, v_b.period, v_b.step_slug, v_b.key_index, v_b.key_value, v_clock));
          end if;
          v_want := least(v_want, (v_room->>v_b.bucket)::int);
        end loop;
        continue when v_blocked or v_want <= 0;

        select array_agg(q.ctid), array_agg(q.priority), array_agg(q.visible_at)
          into v_c_ctid, v_c_prio, v_c_vis
          from (select q.ctid, q.priority, q.visible_at from pgflow.step_tasks q
                 where q.status = 'queued' and q.flow_slug = v_f.flow_slug and q.limit_key = v_key
                   and q.visible_at <= now()
                 order by q.priority desc, q.visible_at
                 limit v_want
                   for update skip locked) q;
        v_got := coalesce(cardinality(v_c_ctid), 0);
        continue when v_got = 0;
        v_ctid := v_ctid || v_c_ctid;
        v_prio := v_prio || v_c_prio;
        v_vis := v_vis || v_c_vis;
        v_flow := v_flow || array_fill(v_f.flow_slug, array[v_got]);
        v_grp := v_grp || array_fill(v_key, array[v_got]);
        for j in 1 .. cardinality(v_names) loop
          v_room := jsonb_set(v_room, array[v_names[j]], to_jsonb((v_room->>v_names[j])::int - v_got));
        end loop;
        v_taken := v_taken + v_got;
      end loop;
    end loop;
    -- starts are recorded at a clock read after every bucket lock was taken
    v_start := clock_timestamp();
  end if;

  if not v_limited and cardinality(p_flow_slugs) = 1 then
    -- one flow under no limit (a worker of one flow): nothing to share, one probe
    v_chosen := array(
      select q.ctid from pgflow.step_tasks q
       where q.status = 'queued' and q.flow_slug = p_flow_slugs[1] and q.limit_key = '' and q.visible_at <= now()
       order by q.priority desc, q.visible_at
       limit p_batch_size
         for update skip locked);
  else
  -- Round-robin: every flow's (and limit key's) first task, then every one's second...
  -- Tasks under no limit are probed per flow, oldest runs first.
  v_chosen := array(
    select x.ctid from (
      select w.ctid, w.prio, w.rn_flow, w.fr, max(w.fr) over () as nf
        from (select y.ctid, y.prio,
                     row_number() over (partition by y.flow, y.prio order by y.rn, y.ord) as rn_flow,
                     dense_rank() over (order by y.flow) as fr
                from (select z.ctid, z.flow, z.prio, z.ord,
                             row_number() over (partition by z.flow, z.grp, z.prio order by z.vis) as rn
                        from (select u.ctid, u.flow, u.grp, u.prio, u.vis, u.ord
                                from unnest(v_ctid, v_flow, v_grp, v_prio, v_vis)
                                     with ordinality as u(ctid, flow, grp, prio, vis, ord)
                              union all
                              select q.ctid, q.flow_slug, '', q.priority, q.visible_at, 0
                                from pgflow.flows fl
                               cross join lateral (
                                 select q.ctid, q.flow_slug, q.priority, q.visible_at from pgflow.step_tasks q
                                  where q.status = 'queued' and q.flow_slug = fl.flow_slug and q.limit_key = ''
                                    and q.visible_at <= now()
                                  order by q.priority desc, q.visible_at
                                  limit p_batch_size
                                    for update skip locked) q
                               where p_flow_slugs is null or fl.flow_slug = any(p_flow_slugs)) z) y) w) x
     order by x.prio desc, x.rn_flow, (x.fr + v_turn) % x.nf
     limit p_batch_size);
  end if;

  -- the chosen rows stay locked by this transaction since they were found queued:
  -- their ctids still name them and they are still queued
  return query
  with claimed as (
    update pgflow.step_tasks t
       set status = 'started', attempts_count = t.attempts_count + 1, claimed_by = p_worker_id,
           started_at = v_start,
           lease_expires_at = now() + make_interval(secs => greatest(coalesce(p_lease_seconds, 30), 1))
      from pgflow.steps s, pgflow.flows f
     where t.ctid = any(v_chosen)
       and s.flow_slug = t.flow_slug and s.step_slug = t.step_slug and f.flow_slug = t.flow_slug
    returning t.run_id, t.flow_slug, t.step_slug, t.task_index, t.attempts_count, t.attempts_base, t.input, s.step_type,
              s.deps_count, coalesce(s.opt_timeout, f.opt_timeout) as timeout_seconds, t.lease_expires_at,
              s.signal_name, t.compensation, t.output, t.limit_key
  ), starts as (
    -- every start counts in its rate buckets (buckets looked up once per limit key)
    insert into pgflow.limit_starts (bucket, started_at)
    select b.bucket, v_start
      from claimed c
      join (select g.flow_slug, g.limit_key, lb.bucket
              from (select distinct k.flow_slug, k.limit_key from claimed k where k.limit_key <> '') g
             cross join lateral pgflow.limit_buckets(g.flow_slug, g.limit_key) lb
                     where lb.is_rate) b
        on b.flow_slug = c.flow_slug and b.limit_key = c.limit_key
     where v_rated
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


-- undoes schema.sql
drop index pgflow.step_tasks_queued_idx;
create index step_tasks_queued_idx on pgflow.step_tasks (flow_slug, limit_key, priority desc, visible_at)
  where status = 'queued';
alter table pgflow.step_tasks drop column run_seq;
alter table pgflow.runs drop column seq;
drop sequence pgflow.run_seq;

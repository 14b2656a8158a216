-- Claims up to p_batch_size visible queued tasks of the given flows (null: any flow),
-- highest priority first, with FOR UPDATE SKIP LOCKED so concurrent workers never
-- get the same task. Within a priority, claims are shared round-robin among the flows
-- with ready tasks (and among the limit keys of a flow), so a big backlog of one never
-- starves another; within a flow the oldest runs' tasks come first (start_ready_steps
-- makes a ready task visible from its run's start; run_seq orders runs that started
-- in one statement). Tasks of limited flows are claimed
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
  v_seq bigint[] := '{}';
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
  v_c_seq bigint[];
  v_limited_flows text[];
  v_slug text;
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
         array(select l.flow_slug from pgflow.flows l
                where l.limited and (p_flow_slugs is null or l.flow_slug = any(p_flow_slugs))
                order by l.flow_slug)
    into v_expired, v_due, v_waits_due, v_runs_due, v_limited_flows;
  v_limited := cardinality(v_limited_flows) > 0;
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
    foreach v_slug in array v_limited_flows loop
      -- the flow's distinct limit keys with queued tasks: a skip scan of the queued index
      v_groups := array(
        with recursive g(k) as (
          (select q.limit_key from pgflow.step_tasks q
            where q.status = 'queued' and q.flow_slug = v_slug and q.limit_key > ''
            order by q.limit_key limit 1)
          union all
          select (select q.limit_key from pgflow.step_tasks q
                   where q.status = 'queued' and q.flow_slug = v_slug and q.limit_key > g.k
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
        for v_b in select * from pgflow.limit_buckets(v_slug, v_key) loop
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
            v_room := v_room || jsonb_build_object(v_b.bucket, pgflow.bucket_room(v_slug, v_b.bucket,
              v_b.is_rate, v_b.lim, v_b.period, v_b.step_slug, v_b.key_index, v_b.key_value, v_clock));
          end if;
          v_want := least(v_want, (v_room->>v_b.bucket)::int);
        end loop;
        continue when v_blocked or v_want <= 0;

        select array_agg(q.ctid), array_agg(q.priority), array_agg(q.visible_at), array_agg(q.run_seq)
          into v_c_ctid, v_c_prio, v_c_vis, v_c_seq
          from (select q.ctid, q.priority, q.visible_at, q.run_seq from pgflow.step_tasks q
                 where q.status = 'queued' and q.flow_slug = v_slug and q.limit_key = v_key
                   and q.visible_at <= now()
                 order by q.priority desc, q.visible_at, q.run_seq
                 limit v_want
                   for update skip locked) q;
        v_got := coalesce(cardinality(v_c_ctid), 0);
        continue when v_got = 0;
        v_ctid := v_ctid || v_c_ctid;
        v_prio := v_prio || v_c_prio;
        v_vis := v_vis || v_c_vis;
        v_seq := v_seq || v_c_seq;
        v_flow := v_flow || array_fill(v_slug, array[v_got]);
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
       order by q.priority desc, q.visible_at, q.run_seq
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
                             row_number() over (partition by z.flow, z.grp, z.prio order by z.vis, z.seq) as rn
                        from (select u.ctid, u.flow, u.grp, u.prio, u.vis, u.seq, u.ord
                                from unnest(v_ctid, v_flow, v_grp, v_prio, v_vis, v_seq)
                                     with ordinality as u(ctid, flow, grp, prio, vis, seq, ord)
                              union all
                              select q.ctid, q.flow_slug, '', q.priority, q.visible_at, q.run_seq, 0
                                from pgflow.flows fl
                               cross join lateral (
                                 select q.ctid, q.flow_slug, q.priority, q.visible_at, q.run_seq from pgflow.step_tasks q
                                  where q.status = 'queued' and q.flow_slug = fl.flow_slug and q.limit_key = ''
                                    and q.visible_at <= now()
                                  order by q.priority desc, q.visible_at, q.run_seq
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

-- What down() runs: undoes 0005_write_path. Frozen: never derived again from other files.

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
       set status = 'started', started_at = now(),
           timeout_at = now() + (select make_interval(secs => f.opt_run_timeout)
                                   from pgflow.flows f where f.flow_slug = r.flow_slug)
     where r.run_id in (select q.run_id from pgflow.runs q
                         where q.status = 'queued' and q.start_at <= now()
                         for no key update skip locked)
    returning r.run_id
  )
  select array_agg(promoted.run_id) into v_promoted from promoted;
  perform pgflow.notify_run(x, 'started') from unnest(v_promoted) x;
end;
$$;

-- Deletes up to p_limit finished runs (with their states and tasks, by cascade)
-- that ended before p_older_than; call repeatedly until it returns less than p_limit.
create or replace function pgflow.prune_runs(p_older_than timestamptz, p_limit int default 1000)
returns int
language plpgsql
as $$
declare
  v_count int;
begin
  with doomed as (
    select r.run_id from pgflow.runs r
     where r.status in ('completed', 'failed', 'cancelled')
       and coalesce(r.completed_at, r.failed_at, r.cancelled_at) < p_older_than
     limit p_limit
       for update skip locked
  )
  delete from pgflow.runs r using doomed where r.run_id = doomed.run_id;
  get diagnostics v_count = row_count;
  return v_count;
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

-- undo schema.sql (the deadlines cleared on finished runs stay cleared: only started runs read them)
create index step_tasks_worker_idx on pgflow.step_tasks (claimed_by) where status = 'started';
alter table pgflow.runs reset (fillfactor);
alter table pgflow.step_tasks set (fillfactor = 80);
drop index pgflow.runs_timeout_idx;
create index runs_timeout_idx on pgflow.runs (timeout_at) where status = 'started' and timeout_at is not null;
drop index pgflow.runs_queued_idx;
create index runs_queued_idx on pgflow.runs (start_at) where status = 'queued';
create index runs_finished_idx on pgflow.runs (coalesce(completed_at, failed_at, cancelled_at))
  where status in ('completed', 'failed', 'cancelled');

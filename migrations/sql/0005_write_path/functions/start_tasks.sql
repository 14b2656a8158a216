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

-- Bookkeeping after steps finished (completed or skipped): their dependents have one
-- dependency less and each run one step less. Callers hold the runs' row locks.
-- A run whose last step this was completes in the same update: one new row version
-- (and one set of index entries) per finished run instead of two. A completed child
-- run completes its parent's task in the same transaction (settle_parents).
-- p_flow_slugs: the steps' flows when the caller has them at hand (complete_tasks
-- does), saving a read of each step state. Returns the runs that completed.
create or replace function pgflow.cascade_finished(p_run_ids uuid[], p_step_slugs text[],
                                                   p_flow_slugs text[] default null)
returns uuid[]
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
    select f.run_id, f.step_slug, f.flow_slug
      from unnest(p_run_ids, p_step_slugs, p_flow_slugs) as f(run_id, step_slug, flow_slug)
     where p_flow_slugs is not null
    union all
    select f.run_id, f.step_slug, ss.flow_slug
      from unnest(p_run_ids, p_step_slugs) as f(run_id, step_slug)
      join pgflow.step_states ss on ss.run_id = f.run_id and ss.step_slug = f.step_slug
     where p_flow_slugs is null
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
  return v_done;
end;
$$;

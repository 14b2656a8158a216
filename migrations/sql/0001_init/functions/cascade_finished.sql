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

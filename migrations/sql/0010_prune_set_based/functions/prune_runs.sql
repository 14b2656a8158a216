-- Deletes up to p_limit finished runs that ended before p_older_than, with their step
-- tasks, step states and signals; call repeatedly until it returns less than p_limit.
-- Found through runs_created_idx, oldest first (a run that ended before p_older_than
-- was created before it): no index names a run's status or end time, so that a
-- run's completion stays a HOT update. The children go first, each table in one
-- set-based delete, so the foreign keys' ON DELETE CASCADE triggers (still fired per
-- deleted run and state) find nothing left to delete. The runs stay locked
-- (skip locked: a run another transaction holds, e.g. one finishing, is left for a later
-- call) from the select until commit, so nothing can add rows under them meanwhile.
create or replace function pgflow.prune_runs(p_older_than timestamptz, p_limit int default 5000)
returns int
language plpgsql
as $$
declare
  v_ids uuid[];
begin
  select array_agg(d.run_id) into v_ids
    from (select r.run_id from pgflow.runs r
           where r.created_at < p_older_than
             and r.status in ('completed', 'failed', 'cancelled')
             and coalesce(r.completed_at, r.failed_at, r.cancelled_at) < p_older_than
           order by r.created_at
           limit p_limit
             for update skip locked) d;
  if v_ids is null then
    return 0;
  end if;
  delete from pgflow.step_tasks t where t.run_id = any(v_ids);
  delete from pgflow.step_states s where s.run_id = any(v_ids);
  delete from pgflow.signals g where g.run_id = any(v_ids);
  delete from pgflow.runs r where r.run_id = any(v_ids);
  return cardinality(v_ids);
end;
$$;

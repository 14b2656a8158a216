-- What down() runs: undoes 0010_prune_set_based. Frozen: never derived again from other files.

-- Deletes up to p_limit finished runs (with their states and tasks, by cascade)
-- that ended before p_older_than; call repeatedly until it returns less than p_limit.
-- Found through runs_created_idx, oldest first (a run that ended before p_older_than
-- was created before it): no index names a run's status or end time, so that a
-- run's completion stays a HOT update.
create or replace function pgflow.prune_runs(p_older_than timestamptz, p_limit int default 1000)
returns int
language plpgsql
as $$
declare
  v_count int;
begin
  with doomed as (
    select r.run_id from pgflow.runs r
     where r.created_at < p_older_than
       and r.status in ('completed', 'failed', 'cancelled')
       and coalesce(r.completed_at, r.failed_at, r.cancelled_at) < p_older_than
     order by r.created_at
     limit p_limit
       for update skip locked
  )
  delete from pgflow.runs r using doomed where r.run_id = doomed.run_id;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;

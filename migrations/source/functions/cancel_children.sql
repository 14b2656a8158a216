-- A parent run that ended (failed or cancelled) cancels its unfinished child runs, and
-- they theirs. p_compensate: whether the children compensate (cancel_run's flag).
-- Callers hold the parent's row lock and have already ended it, so the children's
-- cancellation does not settle it again.
create or replace function pgflow.cancel_children(p_run_id uuid, p_compensate boolean default true)
returns void
language plpgsql
as $$
begin
  perform pgflow.cancel_run(k.run_id, p_compensate)
     from (select k.run_id from pgflow.runs k
            where k.parent_run_id = p_run_id and k.status in ('queued', 'started')
            order by k.run_id) k;
end;
$$;

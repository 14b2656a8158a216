-- complete_tasks then start_tasks in one transaction and one round trip: what a
-- worker with results to report and free slots would otherwise send as two calls.
-- A result's follow-up task (the next step of a chain) is claimed in the same call
-- instead of after a NOTIFY and another query.
create or replace function pgflow.complete_tasks_and_claim(
  p_results jsonb, p_flow_slugs text[], p_worker_id text, p_batch_size int, p_known_runs uuid[] default null
)
returns setof pgflow.claimed_task
language plpgsql
as $$
declare
  v_sync text := current_setting('synchronous_commit');
begin
  perform 1 from pgflow.complete_tasks(p_results);
  if p_batch_size > 0 then
    return query select * from pgflow.start_tasks(p_flow_slugs, p_worker_id, p_batch_size, p_known_runs);
    -- start_tasks made the commit asynchronous; this one carries results
    perform set_config('synchronous_commit', v_sync, true);
  end if;
end;
$$;

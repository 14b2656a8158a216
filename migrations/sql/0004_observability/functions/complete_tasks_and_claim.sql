-- complete_tasks then start_tasks in one transaction and one round trip: what a
-- worker with results to report and free slots would otherwise send as two calls.
-- A result's follow-up task (the next step of a chain) is claimed in the same call
-- instead of after a NOTIFY and another query, and the NOTIFY for it goes out only if
-- the claim left it: otherwise every listening worker would wake and claim nothing.
create or replace function pgflow.complete_tasks_and_claim(
  p_results jsonb, p_flow_slugs text[], p_worker_id text, p_batch_size int, p_known_runs uuid[] default null,
  p_lease_seconds int default 30
)
returns setof pgflow.claimed_task
language plpgsql
as $$
declare
  v_sync text := current_setting('synchronous_commit');
begin
  if p_batch_size <= 0 then
    perform 1 from pgflow.complete_tasks(p_results);
    return;
  end if;
  perform set_config('pgflow.claiming', 'on', true);
  perform set_config('pgflow.ready_flows', '', true);
  perform 1 from pgflow.complete_tasks(p_results);
  perform set_config('pgflow.claiming', '', true);

  return query select * from pgflow.start_tasks(p_flow_slugs, p_worker_id, p_batch_size, p_known_runs, p_lease_seconds);
  -- start_tasks made the commit asynchronous; this one carries results
  perform set_config('synchronous_commit', v_sync, true);

  perform pg_notify('pgflow_tasks', f.slug)
     from (select distinct x as slug
             from unnest(string_to_array(nullif(current_setting('pgflow.ready_flows'), ''), ',')) x) f
    where exists (select 1 from pgflow.step_tasks t
                   where t.status = 'queued' and t.visible_at <= now() and t.flow_slug = f.slug);
end;
$$;

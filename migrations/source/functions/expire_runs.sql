-- Runs whose runTimeout passed before they finished fail with "run timed out after
-- <n> s" (error.stepSlug: an unfinished step, a running or waiting one first); every
-- unfinished step and task is cancelled, and workers running its tasks abort them on
-- the 'failed' notification. Called by start_tasks when a deadline is due, like
-- expire_waits; locked runs are passed over.
create or replace function pgflow.expire_runs(p_limit int default 100)
returns int
language plpgsql
as $$
declare
  r record;
  v_step text;
  v_seconds int;
  v_message text;
  v_count int := 0;
begin
  for r in
    select x.run_id
      from (select q.run_id from pgflow.runs q
             where q.status = 'started' and q.timeout_at <= now()
             order by q.timeout_at
             limit p_limit) x
     order by x.run_id
  loop
    select f.opt_run_timeout into v_seconds
      from pgflow.runs q join pgflow.flows f on f.flow_slug = q.flow_slug
     where q.run_id = r.run_id and q.status = 'started' and q.timeout_at <= now()
       for no key update of q skip locked;
    continue when not found;
    v_message := format('run timed out after %s s', v_seconds);

    select ss.step_slug into v_step
      from pgflow.step_states ss
      join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
     where ss.run_id = r.run_id and ss.status in ('started', 'waiting', 'created')
     order by ss.status = 'created', s.step_index
     limit 1;

    update pgflow.runs
       set status = 'failed', failed_at = now(), timeout_at = null,
           error = jsonb_build_object('stepSlug', v_step, 'taskIndex', 0, 'message', v_message)
     where run_id = r.run_id;
    update pgflow.step_states
       set status = 'cancelled', wait_expires_at = null
     where run_id = r.run_id and status in ('created', 'waiting', 'started');
    update pgflow.step_tasks
       set status = 'cancelled', lease_expires_at = null
     where run_id = r.run_id and status in ('queued', 'started', 'waiting');
    perform pgflow.notify_run(r.run_id, 'failed');
    perform pgflow.cancel_children(r.run_id);
    if not pgflow.begin_compensation(r.run_id, 'failed') then
      perform pgflow.settle_parents(array[r.run_id]);
    end if;
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

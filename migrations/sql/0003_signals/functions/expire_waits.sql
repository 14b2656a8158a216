-- Waits whose signalTimeout passed without a signal: the step is exhausted (no
-- retries) with "signal '<name>' not received within <n> s", and its whenExhausted
-- decides: the run fails, or the step is skipped (with its dependents under
-- 'skip-cascade'). Called by start_tasks when the partial index of deadlines holds a
-- due one, so no process keeps a timer. A run locked by someone else is passed over
-- and expired by a later claim, as in reclaim_expired_tasks.
create or replace function pgflow.expire_waits(p_limit int default 100)
returns int
language plpgsql
as $$
declare
  r record;
  v record;
  v_run_status text;
  v_message text;
  v_count int := 0;
begin
  for r in
    select x.run_id, x.step_slug
      from (select ss.run_id, ss.step_slug from pgflow.step_states ss
             where ss.wait_expires_at <= now()
             order by ss.wait_expires_at
             limit p_limit) x
     order by x.run_id
  loop
    select q.status into v_run_status from pgflow.runs q where q.run_id = r.run_id for no key update skip locked;
    continue when not found;
    select ss.status, s.signal_name, s.opt_signal_timeout, s.when_exhausted into v
      from pgflow.step_states ss
      join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
     where ss.run_id = r.run_id and ss.step_slug = r.step_slug and ss.wait_expires_at <= now();
    continue when not found;
    -- the deadline goes in every case: a deadline left behind would bring every claim here
    update pgflow.step_states set wait_expires_at = null where run_id = r.run_id and step_slug = r.step_slug;
    continue when v.status <> 'waiting' or v_run_status not in ('started', 'queued');

    v_message := format('signal ''%s'' not received within %s s', v.signal_name, v.opt_signal_timeout);
    if v.when_exhausted = 'fail' then
      perform pgflow.fail_run(r.run_id, r.step_slug, 0, v_message);
    else
      update pgflow.step_states
         set status = 'skipped', skip_cascade = (v.when_exhausted = 'skip-cascade'),
             error_message = v_message, completed_at = now()
       where run_id = r.run_id and step_slug = r.step_slug;
      perform pgflow.cascade_finished(array[r.run_id], array[r.step_slug]);
      perform pgflow.start_ready_steps(array[r.run_id]);
    end if;
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

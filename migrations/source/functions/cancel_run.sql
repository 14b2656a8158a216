-- Cancels a run: the run, its unfinished (also waiting) steps and tasks become 'cancelled'; workers
-- running its tasks hear it on pgflow_runs and abort their handlers. Its unfinished
-- child runs are cancelled too, and a child run's parent task is exhausted. Returns the
-- run's status afterwards: 'cancelled', 'compensating' (p_compensate, the default: completed
-- steps with a compensation are compensated first), or the status it already had when it
-- had finished or was compensating.
create or replace function pgflow.cancel_run(p_run_id uuid, p_compensate boolean default true)
returns text
language plpgsql
as $$
declare
  v_status text;
begin
  select status into v_status from pgflow.runs where run_id = p_run_id for no key update;
  if not found then
    raise exception 'unknown run %', p_run_id using errcode = 'PGF03';
  end if;
  if v_status in ('completed', 'failed', 'cancelled', 'compensating', 'compensation_failed') then
    return v_status;
  end if;

  update pgflow.runs set status = 'cancelled', cancelled_at = now(), timeout_at = null where run_id = p_run_id;
  update pgflow.step_states set status = 'cancelled', wait_expires_at = null
   where run_id = p_run_id and status in ('created', 'waiting', 'started');
  update pgflow.step_tasks set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and status in ('queued', 'started', 'waiting');
  perform pgflow.notify_run(p_run_id, 'cancelled');
  perform pgflow.cancel_children(p_run_id, p_compensate);
  if coalesce(p_compensate, true) and pgflow.begin_compensation(p_run_id, 'cancelled') then
    return 'compensating';
  end if;
  perform pgflow.settle_parents(array[p_run_id]);
  return 'cancelled';
end;
$$;

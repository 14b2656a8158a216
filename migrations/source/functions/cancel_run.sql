-- Cancels a run: the run, its unfinished (also waiting) steps and tasks become 'cancelled'; workers
-- running its tasks hear it on pgflow_runs and abort their handlers. Returns the
-- run's status afterwards ('cancelled', or the final status it already had).
create or replace function pgflow.cancel_run(p_run_id uuid)
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
  if v_status in ('completed', 'failed', 'cancelled') then
    return v_status;
  end if;

  update pgflow.runs set status = 'cancelled', cancelled_at = now(), timeout_at = null where run_id = p_run_id;
  update pgflow.step_states set status = 'cancelled', wait_expires_at = null
   where run_id = p_run_id and status in ('created', 'waiting', 'started');
  update pgflow.step_tasks set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and status in ('queued', 'started');
  perform pgflow.notify_run(p_run_id, 'cancelled');
  return 'cancelled';
end;
$$;

-- Fails a run because one of its steps failed for good: the step is failed, the
-- rest of the unfinished work (child runs too) is cancelled, so late results are
-- ignored; a child run's parent task is exhausted. Completed steps with a compensation
-- are compensated first (begin_compensation): the run is 'compensating' until then.
-- Callers hold the run's row lock.
create or replace function pgflow.fail_run(p_run_id uuid, p_step_slug text, p_task_index int, p_message text)
returns void
language plpgsql
as $$
begin
  update pgflow.runs
     set status = 'failed', failed_at = now(), timeout_at = null,
         error = jsonb_build_object('stepSlug', p_step_slug, 'taskIndex', p_task_index, 'message', p_message)
   where run_id = p_run_id;
  update pgflow.step_states
     set status = 'failed', failed_at = now(), error_message = p_message, wait_expires_at = null
   where run_id = p_run_id and step_slug = p_step_slug;
  update pgflow.step_states
     set status = 'cancelled', wait_expires_at = null
   where run_id = p_run_id and status in ('created', 'waiting', 'started');
  update pgflow.step_tasks
     set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and status in ('queued', 'started', 'waiting');
  perform pgflow.notify_run(p_run_id, 'failed');
  perform pgflow.cancel_children(p_run_id);
  if not pgflow.begin_compensation(p_run_id, 'failed') then
    perform pgflow.settle_parents(array[p_run_id]);
  end if;
end;
$$;

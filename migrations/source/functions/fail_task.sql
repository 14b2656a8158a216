-- Records a failed attempt. Returns 'retrying' (queued again after
-- base_delay * 2^(attempt-1) seconds, capped at one hour), 'failed' (attempts
-- exhausted or non-retryable: the run fails), 'skipped' (exhausted and the step's
-- whenExhausted skips it) or 'ignored' (stale attempt, finished task or run).
-- A compensation's attempt (the run is 'compensating') goes to fail_compensation.
-- Every failed attempt is kept in attempt_history (its error, timings and worker; the
-- last 20), since error_message holds only the latest one.
create or replace function pgflow.fail_task(
  p_run_id uuid,
  p_step_slug text,
  p_task_index int,
  p_attempt int,
  p_error text,
  p_non_retryable boolean default false
)
returns text
language plpgsql
as $$
declare
  v_run_status text;
  v_task record;
  v_delay numeric;
  v_n int; -- this attempt's number within the task's current budget
begin
  select status into v_run_status from pgflow.runs where run_id = p_run_id for no key update;
  if v_run_status = 'compensating' then
    return pgflow.fail_compensation(p_run_id, p_step_slug, p_task_index, p_attempt, p_error, p_non_retryable);
  end if;
  if v_run_status is null or v_run_status not in ('started', 'queued') then
    return 'ignored';
  end if;

  select t.status, t.attempts_count, t.attempts_base, t.flow_slug,
         coalesce(s.opt_max_attempts, f.opt_max_attempts) as max_attempts,
         coalesce(s.opt_base_delay, f.opt_base_delay) as base_delay,
         s.when_exhausted
    into v_task
    from pgflow.step_tasks t
    join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
    join pgflow.flows f on f.flow_slug = t.flow_slug
   where t.run_id = p_run_id and t.step_slug = p_step_slug and t.task_index = p_task_index
     for update of t;
  if not found or v_task.status <> 'started' or v_task.attempts_count <> p_attempt then
    return 'ignored';
  end if;

  v_n := p_attempt - v_task.attempts_base;

  if not coalesce(p_non_retryable, false) and v_n < v_task.max_attempts then
    v_delay := least(v_task.base_delay * power(2::numeric, v_n - 1), 3600);
    update pgflow.step_tasks
       set attempt_history = pgflow.append_attempt(attempt_history, jsonb_build_object(
             'attempt', v_n, 'error', p_error, 'startedAt', started_at, 'endedAt', now(), 'workerId', claimed_by)),
           status = 'queued', visible_at = now() + make_interval(secs => v_delay::double precision),
           error_message = p_error, claimed_by = null, lease_expires_at = null, failed_at = now()
     where run_id = p_run_id and step_slug = p_step_slug and task_index = p_task_index;
    if v_delay = 0 then
      perform pg_notify('pgflow_tasks', v_task.flow_slug);
    end if;
    return 'retrying';
  end if;

  update pgflow.step_tasks
     set attempt_history = pgflow.append_attempt(attempt_history, jsonb_build_object(
           'attempt', v_n, 'error', p_error, 'startedAt', started_at, 'endedAt', now(), 'workerId', claimed_by)),
         status = 'failed', error_message = p_error, failed_at = now(), lease_expires_at = null
   where run_id = p_run_id and step_slug = p_step_slug and task_index = p_task_index;

  if v_task.when_exhausted = 'fail' then
    perform pgflow.fail_run(p_run_id, p_step_slug, p_task_index, p_error);
    return 'failed';
  end if;

  update pgflow.step_states
     set status = 'skipped', skip_cascade = (v_task.when_exhausted = 'skip-cascade'),
         error_message = p_error, completed_at = now()
   where run_id = p_run_id and step_slug = p_step_slug;
  update pgflow.step_tasks
     set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and step_slug = p_step_slug and status in ('queued', 'started', 'waiting');
  -- the skipped step's other child runs are not wanted any more
  perform pgflow.cancel_run(k.run_id)
     from (select k.run_id from pgflow.runs k
            where k.parent_run_id = p_run_id and k.parent_step_slug = p_step_slug and k.status in ('queued', 'started')
            order by k.run_id) k;
  perform pgflow.cascade_finished(array[p_run_id], array[p_step_slug]);
  perform pgflow.start_ready_steps(array[p_run_id]);
  return 'skipped';
end;
$$;

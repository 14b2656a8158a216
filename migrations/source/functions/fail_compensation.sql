-- A failed attempt of a compensation (fail_task hands it over for runs that are
-- 'compensating'): retried with the step's backoff, or, once its attempts are
-- exhausted, the run is 'compensation_failed' with error.stepSlug the compensated step
-- (error.cause keeps the original failure) and its other compensations stop;
-- retry_run finishes them. Same outcomes as fail_task. Callers hold the run's row lock.
create or replace function pgflow.fail_compensation(
  p_run_id uuid, p_step_slug text, p_task_index int, p_attempt int, p_error text, p_non_retryable boolean
)
returns text
language plpgsql
as $$
declare
  v_task record;
  v_delay numeric;
  v_n int;
  v_message text;
begin
  select t.status, t.attempts_count, t.attempts_base, t.flow_slug, t.compensation,
         coalesce(s.opt_max_attempts, f.opt_max_attempts) as max_attempts,
         coalesce(s.opt_base_delay, f.opt_base_delay) as base_delay
    into v_task
    from pgflow.step_tasks t
    join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
    join pgflow.flows f on f.flow_slug = t.flow_slug
   where t.run_id = p_run_id and t.step_slug = p_step_slug and t.task_index = p_task_index
     for update of t;
  if not found or v_task.status <> 'started' or v_task.attempts_count <> p_attempt
     or v_task.compensation is distinct from 'running' then
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
  update pgflow.step_tasks
     set status = 'cancelled', lease_expires_at = null
   where run_id = p_run_id and compensation = 'running' and status in ('queued', 'started');
  v_message := format('compensation of step "%s" failed: %s', p_step_slug, p_error);
  update pgflow.runs
     set status = 'compensation_failed',
         error = jsonb_build_object('stepSlug', p_step_slug, 'taskIndex', p_task_index, 'message', v_message)
                 || case when error is null then '{}'::jsonb else jsonb_build_object('cause', error) end
   where run_id = p_run_id;
  perform pgflow.notify_run(p_run_id, 'compensation_failed');
  perform pgflow.settle_parents(array[p_run_id]);
  return 'failed';
end;
$$;

-- Run $1's tasks (only step $2's when given) in step declaration order, then by task
-- index, with their progress and failed attempts.
select t.step_slug, t.task_index, t.status, t.attempts_count - t.attempts_base as attempt, t.output,
       t.error_message, t.progress, t.claimed_by, t.started_at, coalesce(t.completed_at, t.failed_at) as ended_at,
       t.completed_at, t.attempt_history, ss.status as step_status
  from pgflow.step_tasks t
  join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
  join pgflow.step_states ss on ss.run_id = t.run_id and ss.step_slug = t.step_slug
 where t.run_id = $1 and ($2::text is null or t.step_slug = $2)
 order by s.step_index, t.task_index

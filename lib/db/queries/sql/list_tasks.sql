-- Run $1's tasks in step declaration order, then by task index.
select t.step_slug, t.task_index, t.status, t.attempts_count, t.claimed_by, t.error_message,
       t.queued_at, t.started_at, t.completed_at, t.failed_at
  from pgflow.step_tasks t
  join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
 where t.run_id = $1
 order by s.step_index, t.task_index

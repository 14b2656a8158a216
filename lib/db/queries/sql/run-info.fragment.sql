select r.run_id, r.flow_slug, r.status, r.input, r.output, r.error, r.created_at, r.started_at,
       r.completed_at, r.failed_at,
       coalesce((select json_agg(json_build_object(
                  'stepSlug', ss.step_slug, 'status', ss.status, 'totalTasks', ss.total_tasks,
                  'remainingTasks', ss.remaining_tasks, 'output', ss.output, 'error', ss.error_message)
                  order by s.step_index)
                 from pgflow.step_states ss
                 join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
                where ss.run_id = r.run_id), '[]'::json) as steps
  from pgflow.runs r

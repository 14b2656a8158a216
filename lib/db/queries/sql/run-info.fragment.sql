select r.run_id, r.flow_slug, r.status, r.input, r.output, r.error, r.created_at, r.started_at,
       r.completed_at, r.failed_at, r.parent_run_id,
       coalesce((select json_agg(json_build_object(
                  'stepSlug', ss.step_slug, 'status', ss.status, 'totalTasks', ss.total_tasks,
                  'remainingTasks', ss.remaining_tasks, 'output', ss.output, 'error', ss.error_message,
                  'childRunIds', case when s.subflow_slug is not null then
                    (select coalesce(json_agg(k.run_id order by k.parent_task_index), '[]'::json)
                       from pgflow.runs k
                      where k.parent_run_id = r.run_id and k.parent_step_slug = ss.step_slug) end)
                  order by s.step_index)
                 from pgflow.step_states ss
                 join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
                where ss.run_id = r.run_id), '[]'::json) as steps
  from pgflow.runs r

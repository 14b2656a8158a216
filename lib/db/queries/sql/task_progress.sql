-- The latest progress of run $1's tasks that reported any (watchRun's progress events).
select t.step_slug, t.task_index, t.progress
  from pgflow.step_tasks t
 where t.run_id = $1 and t.progress is not null

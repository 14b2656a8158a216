-- Starts the child runs of subflow tasks ($1: JSON array of {run_id, step_slug, task_index, attempt, input}).
select run_id, step_slug, task_index, outcome from pgflow.start_child_runs($1::jsonb)

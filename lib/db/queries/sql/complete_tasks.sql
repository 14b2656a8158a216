-- prepared
-- Stores a batch of results ($1: JSON array of {run_id, step_slug, task_index, attempt, output}).
select 1 from pgflow.complete_tasks($1::jsonb)

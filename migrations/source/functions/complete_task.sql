-- Single-result form of complete_tasks; returns whether the result was accepted.
create or replace function pgflow.complete_task(
  p_run_id uuid, p_step_slug text, p_task_index int, p_attempt int, p_output jsonb
)
returns boolean
language sql
as $$
  select c.accepted
    from pgflow.complete_tasks(jsonb_build_array(jsonb_build_object(
      'run_id', p_run_id, 'step_slug', p_step_slug, 'task_index', p_task_index,
      'attempt', p_attempt, 'output', coalesce(p_output, 'null'::jsonb)))) c;
$$;

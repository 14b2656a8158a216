-- Input of a single step: {"run": <run input>, "<dep>": <dep output>, ...};
-- skipped dependencies are absent.
-- PL/pgSQL rather than SQL: a SQL function called per row is planned again by every
-- query that calls it, which cost more than building the input; this plan is cached.
create or replace function pgflow.build_step_input(
  p_run_id uuid,
  p_flow_slug text,
  p_step_slug text,
  p_run_input jsonb
)
returns jsonb
language plpgsql
stable
as $$
begin
  return (
    select jsonb_build_object('run', p_run_input)
           || coalesce(jsonb_object_agg(d.dep_slug, ds.output), '{}'::jsonb)
      from pgflow.deps d
      join pgflow.step_states ds on ds.run_id = p_run_id and ds.step_slug = d.dep_slug
     where d.flow_slug = p_flow_slug and d.step_slug = p_step_slug and ds.status = 'completed');
end;
$$;

-- Adds a step, or checks an existing one has the same shape and updates its options.
select 1 from pgflow.add_step(
  p_flow_slug => $1, p_step_slug => $2, p_deps => $3::text[], p_map_source => $4, p_initial_tasks => $5,
  p_max_attempts => $6, p_base_delay => $7, p_timeout => $8, p_start_delay => $9,
  p_if => $10::jsonb, p_if_not => $11::jsonb, p_when_unmet => $12, p_when_exhausted => $13,
  p_signal => $14, p_signal_timeout => $15, p_subflow => $16, p_compensate => $17)

-- A claimed task as the claim functions return it (start_tasks and
-- complete_tasks_and_claim): one definition, so the two can never drift apart.
create type pgflow.claimed_task as (
  run_id           uuid,
  flow_slug        text,
  step_slug        text,
  task_index       int,
  attempt          int,   -- identifies the attempt; results must echo it
  input            jsonb,
  run_input        jsonb, -- null for runs the caller said it already holds
  timeout_seconds  int,
  lease_expires_at timestamptz,
  attempt_number   int,   -- 1-based since the run was last resumed: ctx.attempt
  traceparent      text,  -- the run's trace context (runs.traceparent)
  compensation     text   -- null; 'failed' or 'cancelled': run the step's compensation (why)
);

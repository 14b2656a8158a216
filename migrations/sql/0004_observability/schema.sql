-- 0004_observability: runs before functions/.
-- Renewed leases (start_tasks and complete_tasks_and_claim take p_lease_seconds),
-- trace context on the run (start_flow takes p_traceparent, claims return it),
-- the task's latest progress and its failed attempts' history.
drop function pgflow.start_tasks(text[], text, int, uuid[]);
drop function pgflow.complete_tasks_and_claim(jsonb, text[], text, int, uuid[]);
drop function pgflow.start_flow(text, jsonb, uuid, text, int, timestamptz);

alter type pgflow.claimed_task add attribute traceparent text;
alter table pgflow.runs add column traceparent text;
alter table pgflow.step_tasks add column progress jsonb, add column attempt_history jsonb;

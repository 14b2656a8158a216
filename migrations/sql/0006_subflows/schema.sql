-- 0006_subflows: runs before functions/.
-- Subflows (steps.subflow_slug; child runs point at their parent's task; a subflow
-- task 'waiting' while its child runs) and compensation (steps.compensate; runs
-- 'compensating' / 'compensation_failed' with their reason; a completed task's
-- compensation state, claimed as a task with its reason).
drop function pgflow.add_step(text, text, text[], text, int, int, int, int, int, jsonb, jsonb, text, text, text, int);
drop function pgflow.start_flow(text, jsonb, uuid, text, int, timestamptz, text);
drop function pgflow.cancel_run(uuid);

alter table pgflow.steps
  add column subflow_slug text references pgflow.flows (flow_slug),
  add column compensate boolean not null default false;

alter table pgflow.runs drop constraint runs_status_check;
alter table pgflow.runs
  add constraint runs_status_check
    check (status in ('queued', 'started', 'completed', 'failed', 'cancelled', 'compensating', 'compensation_failed')),
  add column parent_run_id uuid,
  add column parent_step_slug text,
  add column parent_task_index int,
  add column compensation_reason text check (compensation_reason in ('failed', 'cancelled'));
create unique index runs_parent_idx on pgflow.runs (parent_run_id, parent_step_slug, parent_task_index)
  where parent_run_id is not null;

alter table pgflow.step_tasks drop constraint step_tasks_status_check;
alter table pgflow.step_tasks
  add constraint step_tasks_status_check
    check (status in ('queued', 'started', 'completed', 'failed', 'cancelled', 'waiting')),
  add column compensation text check (compensation in ('pending', 'running', 'done'));

alter type pgflow.claimed_task add attribute compensation text;

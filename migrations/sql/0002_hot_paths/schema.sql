-- A database migrated by 0001's first release (before attempts_base, the
-- pgflow.claimed_task type and complete_tasks_and_claim were added to it) is brought
-- to what 0001 creates now; on any other database these are no-ops.
alter table pgflow.step_tasks add column if not exists attempts_base int not null default 0;
do $$
begin
  if to_regtype('pgflow.claimed_task') is null then
    create type pgflow.claimed_task as (
      run_id uuid, flow_slug text, step_slug text, task_index int, attempt int, input jsonb,
      run_input jsonb, timeout_seconds int, lease_expires_at timestamptz, attempt_number int
    );
  end if;
end;
$$;
-- that release's start_tasks returned a table of its own, which a replacement cannot change
drop function if exists pgflow.start_tasks(text[], text, int, uuid[]);

-- Runs now complete in cascade_finished, in the update that counts their last step
-- down; nothing calls this any more.
drop function pgflow.maybe_complete_run(uuid[]);

create table pgflow.step_states (
  run_id         uuid not null references pgflow.runs (run_id) on delete cascade,
  flow_slug      text not null,
  step_slug      text not null,
  status         text not null default 'created'
                 check (status in ('created', 'waiting', 'started', 'completed', 'failed', 'skipped', 'cancelled')),
  remaining_deps int not null check (remaining_deps >= 0),
  total_tasks    int,
  remaining_tasks int check (remaining_tasks is null or remaining_tasks >= 0),
  -- set when the step was skipped and its dependents must be skipped as well
  skip_cascade   boolean not null default false,
  output         jsonb,
  error_message  text,
  created_at     timestamptz not null default now(),
  started_at     timestamptz,
  completed_at   timestamptz,
  failed_at      timestamptz,
  -- a 'waiting' step's signalTimeout deadline; null whenever the step does not wait
  wait_expires_at timestamptz,
  primary key (run_id, step_slug),
  foreign key (flow_slug, step_slug) references pgflow.steps (flow_slug, step_slug)
);
-- the counters are hot rows: leave room for HOT updates
alter table pgflow.step_states set (fillfactor = 70);
-- Waits with a deadline, checked in start_tasks' path. The predicate names only
-- wait_expires_at, which ordinary steps never change: their status updates stay HOT.
create index step_states_wait_idx on pgflow.step_states (wait_expires_at) where wait_expires_at is not null;

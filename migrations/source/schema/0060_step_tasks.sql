create table pgflow.step_tasks (
  run_id           uuid not null references pgflow.runs (run_id) on delete cascade,
  flow_slug        text not null,
  step_slug        text not null,
  task_index       int not null,
  status           text not null default 'queued'
                   check (status in ('queued', 'started', 'completed', 'failed', 'cancelled', 'waiting')),
  -- identifies an attempt in results; never goes back except when a stopping worker
  -- releases a claim it will not report
  attempts_count   int not null default 0,
  -- attempts made before the run was last resumed by retry_run: maxAttempts and the
  -- backoff count from here, so a resumed task gets a fresh budget while a late result
  -- of an attempt from before the resume still cannot match the new attempt
  attempts_base    int not null default 0,
  priority         int not null default 0,
  visible_at       timestamptz not null default now(),
  claimed_by       text,
  lease_expires_at timestamptz,
  -- the element a map task works on, stored once when the step starts
  input            jsonb,
  output           jsonb,
  error_message    text,
  queued_at        timestamptz not null default now(),
  started_at       timestamptz,
  completed_at     timestamptz,
  failed_at        timestamptz,
  -- the handler's latest ctx.progress(value)
  progress         jsonb,
  -- the task's failed attempts ({ attempt, error, startedAt, endedAt, workerId }), the
  -- last 20; the attempt running or completed now is read from the columns above
  attempt_history  jsonb,
  -- compensation of a completed task (the run failed or was cancelled): 'pending' until
  -- its dependents' compensations are done, 'running' while status queues and runs it
  -- as a task of its own, 'done'. Null: no compensation.
  compensation     text check (compensation in ('pending', 'running', 'done')),
  -- '' for a task under no limit. Under limits: '<step>:' and the JSON array of its key
  -- values, set when the task is created; tasks sharing it share every limit bucket,
  -- so a claim visits one entry per distinct value instead of every queued task
  limit_key        text not null default '',
  -- its run's seq: claims take tasks in (priority, visible_at, run_seq) order, so of
  -- runs started in one statement the older run's next step still goes first
  run_seq          bigint not null default 0,
  primary key (run_id, step_slug, task_index),
  foreign key (run_id, step_slug) references pgflow.step_states (run_id, step_slug) on delete cascade
);
-- The claimable set lives in two small partial indexes so that finished history
-- never enters the claim path. Claims probe it per flow (round-robin across flows) and
-- per limit key (round-robin across keys, skipping saturated ones).
create index step_tasks_queued_idx on pgflow.step_tasks (flow_slug, limit_key, priority desc, visible_at, run_seq)
  where status = 'queued';
create index step_tasks_lease_idx on pgflow.step_tasks (lease_expires_at)
  where status = 'started';
-- running tasks under limits: what a claim counts against a concurrency limit
create index step_tasks_limited_idx on pgflow.step_tasks (flow_slug, step_slug)
  where status = 'started' and limit_key <> '';
-- (a worker's own started tasks are found through step_tasks_lease_idx: the started
-- set is as small as the tasks running, and one index less is one entry less per claim)
-- claims churn this table; vacuum it early so dead index entries do not pile up
alter table pgflow.step_tasks set (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_cost_delay = 0,
  autovacuum_analyze_scale_factor = 0.02,
  fillfactor = 60
);

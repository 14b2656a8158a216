-- pgflow schema: definitions (flows, steps, deps), runtime (runs, step_states,
-- step_tasks) and worker heartbeats.
create schema if not exists pgflow;

create table pgflow.flows (
  flow_slug        text primary key
                   check (flow_slug ~ '^[a-zA-Z_][a-zA-Z0-9_]*$' and length(flow_slug) <= 128),
  opt_max_attempts int not null default 3 check (opt_max_attempts >= 1),
  opt_base_delay   int not null default 1 check (opt_base_delay >= 0),
  opt_timeout      int not null default 60 check (opt_timeout >= 1),
  deprecated       boolean not null default false,
  created_at       timestamptz not null default now()
);

create table pgflow.steps (
  flow_slug        text not null references pgflow.flows (flow_slug) on delete cascade,
  step_slug        text not null
                   check (step_slug ~ '^[a-zA-Z_][a-zA-Z0-9_]*$' and length(step_slug) <= 128
                          and step_slug <> 'run'),
  step_index       int not null,
  step_type        text not null default 'single' check (step_type in ('single', 'map')),
  -- 'run' or the slug of the single dependency the map step iterates over
  map_source       text,
  initial_tasks    int check (initial_tasks is null or initial_tasks >= 1),
  deps_count       int not null default 0,
  opt_max_attempts int check (opt_max_attempts is null or opt_max_attempts >= 1),
  opt_base_delay   int check (opt_base_delay is null or opt_base_delay >= 0),
  opt_timeout      int check (opt_timeout is null or opt_timeout >= 1),
  opt_start_delay  int check (opt_start_delay is null or opt_start_delay >= 0),
  condition_if     jsonb,
  condition_if_not jsonb,
  when_unmet       text not null default 'skip' check (when_unmet in ('skip', 'skip-cascade')),
  when_exhausted   text not null default 'fail'
                   check (when_exhausted in ('fail', 'skip', 'skip-cascade')),
  created_at       timestamptz not null default now(),
  primary key (flow_slug, step_slug),
  unique (flow_slug, step_index),
  check ((step_type = 'map') = (map_source is not null)),
  check (step_type = 'single' or initial_tasks is null)
);

create table pgflow.deps (
  flow_slug  text not null,
  dep_slug   text not null,
  step_slug  text not null,
  created_at timestamptz not null default now(),
  primary key (flow_slug, step_slug, dep_slug),
  foreign key (flow_slug, dep_slug) references pgflow.steps (flow_slug, step_slug) on delete cascade,
  foreign key (flow_slug, step_slug) references pgflow.steps (flow_slug, step_slug) on delete cascade,
  check (dep_slug <> step_slug)
);
create index deps_dep_idx on pgflow.deps (flow_slug, dep_slug);

create table pgflow.runs (
  run_id          uuid primary key default gen_random_uuid(),
  flow_slug       text not null references pgflow.flows (flow_slug),
  status          text not null default 'started'
                  check (status in ('queued', 'started', 'completed', 'failed', 'cancelled')),
  input           jsonb not null,
  output          jsonb,
  error           jsonb,
  remaining_steps int not null check (remaining_steps >= 0),
  priority        int not null default 0,
  idempotency_key text,
  start_at        timestamptz,
  created_at      timestamptz not null default now(),
  started_at      timestamptz,
  completed_at    timestamptz,
  failed_at       timestamptz,
  cancelled_at    timestamptz
);
create unique index runs_idempotency_idx on pgflow.runs (flow_slug, idempotency_key)
  where idempotency_key is not null;
create index runs_flow_created_idx on pgflow.runs (flow_slug, created_at desc);
create index runs_created_idx on pgflow.runs (created_at desc);
create index runs_finished_idx on pgflow.runs (coalesce(completed_at, failed_at, cancelled_at))
  where status in ('completed', 'failed', 'cancelled');
-- queued runs are few; the poller promotes them when start_at passes
create index runs_queued_idx on pgflow.runs (start_at) where status = 'queued';

create table pgflow.step_states (
  run_id         uuid not null references pgflow.runs (run_id) on delete cascade,
  flow_slug      text not null,
  step_slug      text not null,
  status         text not null default 'created'
                 check (status in ('created', 'started', 'completed', 'failed', 'skipped', 'cancelled')),
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
  primary key (run_id, step_slug),
  foreign key (flow_slug, step_slug) references pgflow.steps (flow_slug, step_slug)
);
-- the counters are hot rows: leave room for HOT updates
alter table pgflow.step_states set (fillfactor = 70);

create table pgflow.step_tasks (
  run_id           uuid not null references pgflow.runs (run_id) on delete cascade,
  flow_slug        text not null,
  step_slug        text not null,
  task_index       int not null,
  status           text not null default 'queued'
                   check (status in ('queued', 'started', 'completed', 'failed', 'cancelled')),
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
  primary key (run_id, step_slug, task_index),
  foreign key (run_id, step_slug) references pgflow.step_states (run_id, step_slug) on delete cascade
);
-- The claimable set lives in two small partial indexes so that finished history
-- never enters the claim path.
create index step_tasks_queued_idx on pgflow.step_tasks (priority desc, visible_at)
  include (flow_slug) where status = 'queued';
create index step_tasks_lease_idx on pgflow.step_tasks (lease_expires_at)
  where status = 'started';
create index step_tasks_worker_idx on pgflow.step_tasks (claimed_by) where status = 'started';
-- claims churn this table; vacuum it early so dead index entries do not pile up
alter table pgflow.step_tasks set (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_cost_delay = 0,
  autovacuum_analyze_scale_factor = 0.02,
  fillfactor = 80
);

create table pgflow.workers (
  worker_id         text primary key,
  flows             text[] not null default '{}',
  status            text not null default 'online' check (status in ('online', 'stopped')),
  started_at        timestamptz not null default now(),
  last_heartbeat_at timestamptz not null default now(),
  stopped_at        timestamptz
);

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
  attempt_number   int    -- 1-based since the run was last resumed: ctx.attempt
);

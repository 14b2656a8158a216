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
  -- the signal this step waits for once ready (null: it does not wait), and for how long
  signal_name      text check (signal_name is null
                               or (signal_name ~ '^[a-zA-Z_][a-zA-Z0-9_]*$' and length(signal_name) <= 128)),
  opt_signal_timeout int check (opt_signal_timeout is null or opt_signal_timeout >= 1),
  -- each task of this step starts one run of that flow and completes with its output
  subflow_slug     text references pgflow.flows (flow_slug),
  -- the workflow class declares a compensation for this step (run once per completed
  -- task when the run fails or is cancelled)
  compensate       boolean not null default false,
  primary key (flow_slug, step_slug),
  unique (flow_slug, step_index),
  check ((step_type = 'map') = (map_source is not null)),
  check (step_type = 'single' or initial_tasks is null),
  constraint steps_signal_timeout_check check (opt_signal_timeout is null or signal_name is not null),
  -- flow control of the step's tasks (null: no such limit), as on pgflow.flows
  opt_concurrency     int check (opt_concurrency is null or opt_concurrency >= 1),
  opt_concurrency_key text,
  opt_rate_limit      int check (opt_rate_limit is null or opt_rate_limit >= 1),
  opt_rate_period     int check (opt_rate_period is null or opt_rate_period >= 1),
  opt_rate_key        text,
  check ((opt_rate_limit is null) = (opt_rate_period is null))
);
-- one step per signal name and flow: a signal releases exactly one wait
create unique index steps_signal_idx on pgflow.steps (flow_slug, signal_name) where signal_name is not null;

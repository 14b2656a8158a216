create table pgflow.flows (
  flow_slug        text primary key
                   check (flow_slug ~ '^[a-zA-Z_][a-zA-Z0-9_]*$' and length(flow_slug) <= 128),
  opt_max_attempts int not null default 3 check (opt_max_attempts >= 1),
  opt_base_delay   int not null default 1 check (opt_base_delay >= 0),
  opt_timeout      int not null default 60 check (opt_timeout >= 1),
  deprecated       boolean not null default false,
  created_at       timestamptz not null default now(),
  -- runTimeout: seconds from a run's start before it fails, whatever it is doing
  opt_run_timeout  int check (opt_run_timeout is null or opt_run_timeout >= 1),
  -- flow control (null: no such limit); key paths are dot paths into the run input
  opt_concurrency     int check (opt_concurrency is null or opt_concurrency >= 1),
  opt_concurrency_key text,
  opt_rate_limit      int check (opt_rate_limit is null or opt_rate_limit >= 1),
  opt_rate_period     int check (opt_rate_period is null or opt_rate_period >= 1),
  opt_rate_key        text,
  -- the flow or one of its steps declares a limit: its tasks are claimed through the
  -- limit bookkeeping; the others never touch it
  limited             boolean not null default false,
  check ((opt_rate_limit is null) = (opt_rate_period is null))
);
-- start_tasks asks on every claim whether a limited flow is among those it claims for
create index flows_limited_idx on pgflow.flows (flow_slug) where limited;

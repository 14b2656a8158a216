-- 0003_signals: runs before functions/.
-- Signal steps (a step that waits for a signal: steps.signal_name, opt_signal_timeout,
-- step status 'waiting' with its deadline in step_states.wait_expires_at; the signals
-- table) and run deadlines (flows.opt_run_timeout, runs.timeout_at).
alter table pgflow.flows
  add column opt_run_timeout int check (opt_run_timeout is null or opt_run_timeout >= 1);

alter table pgflow.steps
  add column signal_name text check (signal_name is null
                                     or (signal_name ~ '^[a-zA-Z_][a-zA-Z0-9_]*$' and length(signal_name) <= 128)),
  add column opt_signal_timeout int check (opt_signal_timeout is null or opt_signal_timeout >= 1),
  add constraint steps_signal_timeout_check check (opt_signal_timeout is null or signal_name is not null);
create unique index steps_signal_idx on pgflow.steps (flow_slug, signal_name) where signal_name is not null;

alter table pgflow.runs add column timeout_at timestamptz;
create index runs_timeout_idx on pgflow.runs (timeout_at) where status = 'started' and timeout_at is not null;

alter table pgflow.step_states drop constraint step_states_status_check;
alter table pgflow.step_states
  add constraint step_states_status_check
    check (status in ('created', 'waiting', 'started', 'completed', 'failed', 'skipped', 'cancelled')),
  add column wait_expires_at timestamptz;
create index step_states_wait_idx on pgflow.step_states (wait_expires_at) where wait_expires_at is not null;

create table pgflow.signals (
  run_id      uuid not null references pgflow.runs (run_id) on delete cascade,
  name        text not null,
  signal_id   text not null check (length(signal_id) between 1 and 255),
  payload     jsonb not null default 'null'::jsonb,
  consumed_by text,
  created_at  timestamptz not null default now(),
  consumed_at timestamptz,
  primary key (run_id, name, signal_id)
);
create unique index signals_consumed_idx on pgflow.signals (run_id, consumed_by) where consumed_by is not null;
create type pgflow.sent_signal as (
  signal_id text,
  created   boolean
);

-- add_step and create_flow gain parameters: the old signatures go (functions/ creates the new)
drop function pgflow.add_step(text, text, text[], text, int, int, int, int, int, jsonb, jsonb, text, text);
drop function pgflow.create_flow(text, int, int, int);

-- Signals sent to runs: durable and buffered (a signal sent before its step waits
-- counts). The caller's id (signal_id) deduplicates per run and name; a wait consumes
-- one signal, recorded in consumed_by, at most one per step of a run.
create table pgflow.signals (
  run_id      uuid not null references pgflow.runs (run_id) on delete cascade,
  name        text not null,
  signal_id   text not null check (length(signal_id) between 1 and 255),
  payload     jsonb not null default 'null'::jsonb,
  -- the step whose wait took it (null: buffered)
  consumed_by text,
  created_at  timestamptz not null default now(),
  consumed_at timestamptz,
  primary key (run_id, name, signal_id)
);
create unique index signals_consumed_idx on pgflow.signals (run_id, consumed_by) where consumed_by is not null;
-- What send_signal returns: the stored signal's id, and whether this call stored it.
create type pgflow.sent_signal as (
  signal_id text,
  created   boolean
);

create table pgflow.runs (
  run_id          uuid primary key default gen_random_uuid(),
  flow_slug       text not null references pgflow.flows (flow_slug),
  status          text not null default 'started'
                  check (status in ('queued', 'started', 'completed', 'failed', 'cancelled', 'compensating',
                                    'compensation_failed')),
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
  cancelled_at    timestamptz,
  -- started_at + the flow's runTimeout (null: none); set while the run is started
  timeout_at      timestamptz,
  -- W3C traceparent of the span that started the run: attempts' spans join its trace
  traceparent     text,
  -- a subflow's child run: the parent run's task it completes
  parent_run_id   uuid,
  parent_step_slug text,
  parent_task_index int,
  -- why the run is compensating (or was, once compensation_failed): 'failed' or 'cancelled'
  compensation_reason text check (compensation_reason in ('failed', 'cancelled')),
  -- startRun({ concurrencyKey }): replaces the key of every keyed limit of this run
  concurrency_key text,
  -- the order runs were created in, even within one statement (where they share
  -- now()): it breaks ties of visible_at in the claim order, so runs started together
  -- are still worked on oldest first. Null for runs created before 0008.
  seq             bigint
);
create sequence pgflow.run_seq;
alter table pgflow.runs alter column seq set default nextval('pgflow.run_seq');
-- one child per parent task: a resumed parent task resumes its child instead of starting another
create unique index runs_parent_idx on pgflow.runs (parent_run_id, parent_step_slug, parent_task_index)
  where parent_run_id is not null;
create unique index runs_idempotency_idx on pgflow.runs (flow_slug, idempotency_key)
  where idempotency_key is not null;
create index runs_flow_created_idx on pgflow.runs (flow_slug, created_at desc);
-- also prune_runs' path: a run that ended before a time was created before it
create index runs_created_idx on pgflow.runs (created_at desc);
-- No index names status, output or the end times: a run's completion, on every run's
-- hot path, changes only unindexed columns and stays a HOT update (no new index
-- entries; fillfactor leaves the room on the page). The two partial indexes below name
-- columns that change only when a run is promoted, times out, fails or is cancelled.
-- queued runs are few; the poller promotes them when start_at passes
create index runs_queued_idx on pgflow.runs (start_at)
  where started_at is null and failed_at is null and cancelled_at is null;
-- runs with a runTimeout, in start_tasks' path: a scan that almost always finds
-- nothing; every way a run ends clears timeout_at
create index runs_timeout_idx on pgflow.runs (timeout_at) where timeout_at is not null;
alter table pgflow.runs set (fillfactor = 50);

-- 0007_flow_control: runs before functions/.
-- Concurrency and rate limits on flows and steps (set by set_flow_control), the run's
-- concurrencyKey (start_flow takes p_concurrency_key), each task's limit key, the
-- per-flow claim index, and the bookkeeping of slots and starts.
drop function pgflow.start_flow(text, jsonb, uuid, text, int, timestamptz, text, uuid, text, int);

alter table pgflow.flows
  add column opt_concurrency int check (opt_concurrency is null or opt_concurrency >= 1),
  add column opt_concurrency_key text,
  add column opt_rate_limit int check (opt_rate_limit is null or opt_rate_limit >= 1),
  add column opt_rate_period int check (opt_rate_period is null or opt_rate_period >= 1),
  add column opt_rate_key text,
  add column limited boolean not null default false,
  add check ((opt_rate_limit is null) = (opt_rate_period is null));
alter table pgflow.steps
  add column opt_concurrency int check (opt_concurrency is null or opt_concurrency >= 1),
  add column opt_concurrency_key text,
  add column opt_rate_limit int check (opt_rate_limit is null or opt_rate_limit >= 1),
  add column opt_rate_period int check (opt_rate_period is null or opt_rate_period >= 1),
  add column opt_rate_key text,
  add check ((opt_rate_limit is null) = (opt_rate_period is null));
create index flows_limited_idx on pgflow.flows (flow_slug) where limited;
alter table pgflow.runs add column concurrency_key text;
alter table pgflow.step_tasks add column limit_key text not null default '';

drop index pgflow.step_tasks_queued_idx;
create index step_tasks_queued_idx on pgflow.step_tasks (flow_slug, limit_key, priority desc, visible_at)
  where status = 'queued';

create index step_tasks_limited_idx on pgflow.step_tasks (flow_slug, step_slug)
  where status = 'started' and limit_key <> '';
create table pgflow.limit_starts (
  bucket     text not null,
  started_at timestamptz not null
);
create index limit_starts_bucket_idx on pgflow.limit_starts (bucket, started_at);
create sequence pgflow.claim_turns;

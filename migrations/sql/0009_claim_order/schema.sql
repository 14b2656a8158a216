-- 0009_claim_order: runs before functions/.
-- Runs started in one statement share now(), so their tasks tied in the claim order
-- (priority, visible_at) and came back in heap order: every run's first step before any
-- run's second (a 300-run bulk start completed almost all of its runs in the last
-- tenth of its drain). A run sequence breaks the tie; each task carries its run's.
-- Adding the columns rewrites nothing: runs created before this have no seq (they
-- order as 0, i.e. first).
create sequence pgflow.run_seq;
alter table pgflow.runs add column seq bigint;
alter table pgflow.runs alter column seq set default nextval('pgflow.run_seq');
alter table pgflow.step_tasks add column run_seq bigint not null default 0;
drop index pgflow.step_tasks_queued_idx;
create index step_tasks_queued_idx on pgflow.step_tasks (flow_slug, limit_key, priority desc, visible_at, run_seq)
  where status = 'queued';

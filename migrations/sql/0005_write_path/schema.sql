-- 0005_write_path: runs before functions/.
-- A run's completion becomes a HOT update: no index of pgflow.runs names status or
-- an end time any more (prune_runs walks runs_created_idx), and the two partial
-- indexes name columns that change only when a run is promoted or ends otherwise.
-- One index less on step_tasks: a worker's started tasks are found through the lease index.
drop index pgflow.runs_finished_idx;
drop index pgflow.runs_queued_idx;
create index runs_queued_idx on pgflow.runs (start_at)
  where started_at is null and failed_at is null and cancelled_at is null;
-- completions left the deadline of runs with a runTimeout in place; the index now
-- holds every run whose timeout_at is set
update pgflow.runs set timeout_at = null where status <> 'started' and timeout_at is not null;
drop index pgflow.runs_timeout_idx;
create index runs_timeout_idx on pgflow.runs (timeout_at) where timeout_at is not null;
alter table pgflow.runs set (fillfactor = 50);
drop index pgflow.step_tasks_worker_idx;
alter table pgflow.step_tasks set (fillfactor = 60);

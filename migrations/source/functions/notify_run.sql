-- Run events. Every change goes out on pgflow_runs, for waitForRun/watchRun, and only
-- processes that watch runs LISTEN there. Workers LISTEN on pgflow_control, which
-- carries only what a running handler must react to: its run was cancelled or failed
-- (abort), or resumed. Before, every run completion woke every worker.
-- Postgres folds identical payloads within a transaction, so many step changes of one
-- run cost a single notification.
-- PL/pgSQL rather than SQL: it is called in every completion, and a SQL function is
-- planned again by each query that calls it.
create or replace function pgflow.notify_run(p_run_id uuid, p_status text)
returns void
language plpgsql
as $$
begin
  perform pg_notify('pgflow_runs', p_run_id::text || ':' || p_status);
  if p_status in ('cancelled', 'failed', 'compensation_failed') then
    perform pg_notify('pgflow_control', p_run_id::text || ':' || p_status);
  end if;
end;
$$;

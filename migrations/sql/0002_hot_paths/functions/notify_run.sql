-- Run events for waitForRun/watchRun. Postgres folds identical payloads within a
-- transaction, so many step changes of one run cost a single notification.
-- PL/pgSQL rather than SQL: it is called in every completion, and a SQL function is
-- planned again by each query that calls it.
create or replace function pgflow.notify_run(p_run_id uuid, p_status text)
returns void
language plpgsql
as $$
begin
  perform pg_notify('pgflow_runs', p_run_id::text || ':' || p_status);
end;
$$;

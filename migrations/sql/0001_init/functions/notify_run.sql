-- Run events for waitForRun/watchRun. Postgres folds identical payloads within a
-- transaction, so many step changes of one run cost a single notification.
create or replace function pgflow.notify_run(p_run_id uuid, p_status text)
returns void
language sql
as $$
  select pg_notify('pgflow_runs', p_run_id::text || ':' || p_status);
$$;

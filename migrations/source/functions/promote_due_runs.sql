-- Turns 'queued' runs whose start_at has passed into 'started' (their root tasks
-- became visible at that very time) and tells watchers, one NOTIFY per run.
-- Called by start_tasks before each claim; a no-op scan of a tiny partial index
-- when nothing is due.
create or replace function pgflow.promote_due_runs()
returns void
language plpgsql
as $$
declare
  v_promoted uuid[];
begin
  if not exists (select 1 from pgflow.runs q where q.status = 'queued' and q.start_at <= now()
                   and q.started_at is null and q.failed_at is null and q.cancelled_at is null) then
    return;
  end if;
  with promoted as (
    update pgflow.runs r
       set status = 'started', started_at = now(),
           timeout_at = now() + (select make_interval(secs => f.opt_run_timeout)
                                   from pgflow.flows f where f.flow_slug = r.flow_slug)
     where r.run_id in (select q.run_id from pgflow.runs q
                         where q.status = 'queued' and q.start_at <= now()
                           and q.started_at is null and q.failed_at is null and q.cancelled_at is null
                         for no key update skip locked)
    returning r.run_id
  )
  select array_agg(promoted.run_id) into v_promoted from promoted;
  perform pgflow.notify_run(x, 'started') from unnest(v_promoted) x;
end;
$$;

-- Tasks whose lease ran out belong to a worker that died or hung: each counts as a
-- failed attempt (so a task that kills its worker cannot loop forever) and goes
-- through the normal retry rules. Visited in run_id order, like every run lock. A run
-- locked by someone else is passed over (its tasks are reclaimed by a later claim):
-- a claim never waits here, and a caller that already holds run locks (a completion
-- followed by a claim in one transaction) cannot deadlock with another completion.
create or replace function pgflow.reclaim_expired_tasks(p_limit int default 100)
returns int
language plpgsql
as $$
declare
  r record;
  v_count int := 0;
begin
  for r in
    select x.run_id, x.step_slug, x.task_index, x.attempts_count
      from (select t.run_id, t.step_slug, t.task_index, t.attempts_count
              from pgflow.step_tasks t
             where t.status = 'started' and t.lease_expires_at <= now()
             order by t.lease_expires_at
             limit p_limit) x
     order by x.run_id
  loop
    perform 1 from pgflow.runs x where x.run_id = r.run_id for no key update skip locked;
    continue when not found;
    if pgflow.fail_task(r.run_id, r.step_slug, r.task_index, r.attempts_count,
                        'lease expired: the worker stopped before reporting a result') <> 'ignored' then
      v_count := v_count + 1;
    end if;
  end loop;
  return v_count;
end;
$$;

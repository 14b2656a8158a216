-- Records finished compensations (complete_tasks hands over the results of runs that
-- are 'compensating'; same JSON shape, the output is not kept) and queues the
-- compensations they unblock. Callers hold the runs' row locks. Returns the accepted ones.
create or replace function pgflow.complete_compensations(p_results jsonb)
returns table (run_id uuid, step_slug text, task_index int, attempt int)
language plpgsql
as $$
declare
  v_runs uuid[];
  v_steps text[];
  v_idx int[];
  v_attempts int[];
  v_run uuid;
begin
  with res as (
    select (x->>'run_id')::uuid as run_id, x->>'step_slug' as step_slug, (x->>'task_index')::int as task_index,
           (x->>'attempt')::int as attempt
      from jsonb_array_elements(p_results) x
  ), done as (
    update pgflow.step_tasks t
       set status = 'completed', compensation = 'done', lease_expires_at = null
      from res, pgflow.runs r
     where t.run_id = res.run_id and t.step_slug = res.step_slug and t.task_index = res.task_index
       and t.status = 'started' and t.attempts_count = res.attempt and t.compensation = 'running'
       and r.run_id = t.run_id and r.status = 'compensating'
    returning t.run_id, t.step_slug, t.task_index, t.attempts_count
  )
  select array_agg(done.run_id), array_agg(done.step_slug), array_agg(done.task_index), array_agg(done.attempts_count)
    into v_runs, v_steps, v_idx, v_attempts
    from done;

  for v_run in select distinct x from unnest(v_runs) x order by 1 loop
    perform pgflow.schedule_compensations(v_run);
  end loop;
  return query select * from unnest(v_runs, v_steps, v_idx, v_attempts);
end;
$$;

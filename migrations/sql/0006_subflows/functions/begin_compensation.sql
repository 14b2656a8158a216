-- A run that failed or was cancelled compensates: every completed task of a step that
-- declares a compensation gets one (map and initialTasks steps: one per completed
-- task, also when the step did not complete), and the run is 'compensating' until
-- they are done. Returns false (nothing changes) when there is nothing to compensate.
-- Callers hold the run's row lock and have ended its forward work.
create or replace function pgflow.begin_compensation(p_run_id uuid, p_reason text)
returns boolean
language plpgsql
as $$
begin
  update pgflow.step_tasks t
     set compensation = 'pending'
    from pgflow.steps s
   where t.run_id = p_run_id and t.status = 'completed' and t.compensation is null
     and s.flow_slug = t.flow_slug and s.step_slug = t.step_slug and s.compensate;
  if not found then
    return false;
  end if;
  update pgflow.runs set status = 'compensating', compensation_reason = p_reason where run_id = p_run_id;
  perform pgflow.schedule_compensations(p_run_id);
  return true;
end;
$$;

-- Completes runs whose every step finished; output is {<leafSlug>: output} over
-- completed leaf steps (skipped leaves are absent).
create or replace function pgflow.maybe_complete_run(p_run_ids uuid[])
returns void
language plpgsql
as $$
declare
  v_done uuid[];
begin
  with done as (
    update pgflow.runs r
       set status = 'completed',
           completed_at = now(),
           started_at = coalesce(r.started_at, now()),
           output = (
             select coalesce(jsonb_object_agg(ss.step_slug, ss.output), '{}'::jsonb)
               from pgflow.step_states ss
              where ss.run_id = r.run_id and ss.status = 'completed'
                and not exists (select 1 from pgflow.deps d
                                 where d.flow_slug = r.flow_slug and d.dep_slug = ss.step_slug))
     where r.run_id = any(p_run_ids) and r.remaining_steps = 0 and r.status in ('started', 'queued')
    returning r.run_id
  )
  select array_agg(done.run_id) into v_done from done;
  perform pgflow.notify_run(d, 'completed') from unnest(v_done) d;
end;
$$;

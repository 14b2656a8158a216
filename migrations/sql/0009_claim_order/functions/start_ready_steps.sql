-- Starts every step of the given runs whose dependencies are all finished, wave by
-- wave: a step that finishes at once (skipped, empty map) can make its dependents
-- ready in the same call. Tasks are created set-based per step; one NOTIFY per flow.
-- Callers hold the runs' row locks. A run whose last step finishes here completes in
-- cascade_finished.
create or replace function pgflow.start_ready_steps(p_run_ids uuid[])
returns void
language plpgsql
-- planned once per session, never with a seq scan (see start_tasks)
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
as $$
declare
  r record;
  v_input jsonb;
  v_source jsonb;
  v_n int;
  v_visible timestamptz;
  v_signal text;
  v_consumed boolean;
  v_fin_runs uuid[];
  v_fin_steps text[];
  v_notify text[] := '{}';
  -- runs failed by an earlier step of this call (a map over a non-array)
  v_failed uuid[] := '{}';
begin
  loop
    v_fin_runs := '{}';
    v_fin_steps := '{}';
    for r in
      select ss.run_id, ss.step_slug, ss.flow_slug, s.step_type, s.map_source, s.initial_tasks,
             s.condition_if, s.condition_if_not, s.when_unmet, s.opt_start_delay,
             s.signal_name, s.opt_signal_timeout,
             run.input as run_input, run.priority, run.start_at, run.started_at, coalesce(run.seq, 0) as run_seq,
             case when fl.limited then pgflow.limit_key(fl, s, run.input, run.concurrency_key) else '' end as limit_key,
             -- a dependency finished in an earlier wave, so this holds for the whole wave
             exists (select 1 from pgflow.deps d
                       join pgflow.step_states ds on ds.run_id = ss.run_id and ds.step_slug = d.dep_slug
                      where d.flow_slug = ss.flow_slug and d.step_slug = ss.step_slug
                        and ds.status = 'skipped' and ds.skip_cascade) as cascade_skip
        from pgflow.step_states ss
        join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
        join pgflow.runs run on run.run_id = ss.run_id
        join pgflow.flows fl on fl.flow_slug = ss.flow_slug
       where ss.run_id = any(p_run_ids) and ss.status = 'created' and ss.remaining_deps = 0
         and run.status in ('started', 'queued')
       order by ss.run_id, s.step_index
    loop
      continue when r.run_id = any(v_failed);

      if r.cascade_skip then
        update pgflow.step_states set status = 'skipped', skip_cascade = true, completed_at = now()
         where run_id = r.run_id and step_slug = r.step_slug;
        v_fin_runs := v_fin_runs || r.run_id;
        v_fin_steps := v_fin_steps || r.step_slug;
        continue;
      end if;

      if r.condition_if is not null or r.condition_if_not is not null then
        v_input := pgflow.build_step_input(r.run_id, r.flow_slug, r.step_slug, r.run_input);
        if (r.condition_if is not null and not (v_input @> r.condition_if))
           or (r.condition_if_not is not null and v_input @> r.condition_if_not) then
          update pgflow.step_states
             set status = 'skipped', skip_cascade = (r.when_unmet = 'skip-cascade'), completed_at = now()
           where run_id = r.run_id and step_slug = r.step_slug;
          v_fin_runs := v_fin_runs || r.run_id;
          v_fin_steps := v_fin_steps || r.step_slug;
          continue;
        end if;
      end if;

      if r.signal_name is not null then
        -- the signal this step's wait already took (a resumed run), else the oldest
        -- buffered one; none: the step waits, holding no task, until send_signal
        select sg.signal_id, sg.consumed_by is not null into v_signal, v_consumed
          from pgflow.signals sg
         where sg.run_id = r.run_id and sg.name = r.signal_name
           and (sg.consumed_by is null or sg.consumed_by = r.step_slug)
         order by sg.consumed_by is null, sg.created_at, sg.signal_id
         limit 1;
        if v_signal is null then
          update pgflow.step_states
             set status = 'waiting',
                 wait_expires_at = greatest(now(), coalesce(r.start_at, now()))
                                   + make_interval(secs => r.opt_signal_timeout)
           where run_id = r.run_id and step_slug = r.step_slug;
          continue;
        end if;
        if not v_consumed then
          update pgflow.signals sg set consumed_by = r.step_slug, consumed_at = now()
           where sg.run_id = r.run_id and sg.name = r.signal_name and sg.signal_id = v_signal;
        end if;
      end if;

      -- A task ready now is visible from its run's start, so claims (in visible_at,
      -- then run_seq order) take older runs' tasks first and runs finish in the order
      -- they started instead of all at the end of a backlog. Delayed tasks wait as long
      -- as asked.
      v_visible := case when coalesce(r.opt_start_delay, 0) = 0 and coalesce(r.start_at, now()) <= now()
                          then least(now(), coalesce(r.started_at, now()))
                        else greatest(now(), coalesce(r.start_at, now()))
                             + make_interval(secs => coalesce(r.opt_start_delay, 0)) end;

      if r.step_type = 'map' then
        if r.map_source = 'run' then
          v_source := r.run_input;
        else
          select case when ds.status = 'skipped' then '[]'::jsonb else ds.output end into v_source
            from pgflow.step_states ds where ds.run_id = r.run_id and ds.step_slug = r.map_source;
        end if;
        if jsonb_typeof(v_source) is distinct from 'array' then
          perform pgflow.fail_run(r.run_id, r.step_slug, 0,
            format('step "%s" maps over "%s", whose output is not an array (got %s)',
                   r.step_slug, r.map_source, coalesce(jsonb_typeof(v_source), 'null')));
          v_failed := v_failed || r.run_id;
          continue;
        end if;
        v_n := jsonb_array_length(v_source);
        if v_n = 0 then
          update pgflow.step_states
             set status = 'completed', output = '[]'::jsonb, total_tasks = 0, remaining_tasks = 0,
                 started_at = now(), completed_at = now()
           where run_id = r.run_id and step_slug = r.step_slug;
          v_fin_runs := v_fin_runs || r.run_id;
          v_fin_steps := v_fin_steps || r.step_slug;
          continue;
        end if;
        insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, priority, visible_at, input, limit_key,
                                       run_seq)
        select r.run_id, r.flow_slug, r.step_slug, (e.ord - 1)::int, r.priority, v_visible, e.value, r.limit_key,
               r.run_seq
          from jsonb_array_elements(v_source) with ordinality as e(value, ord);
      else
        v_n := coalesce(r.initial_tasks, 1);
        insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, priority, visible_at, limit_key, run_seq)
        select r.run_id, r.flow_slug, r.step_slug, g, r.priority, v_visible, r.limit_key, r.run_seq
          from generate_series(0, v_n - 1) g;
      end if;

      update pgflow.step_states
         set status = 'started', total_tasks = v_n, remaining_tasks = v_n, started_at = now()
       where run_id = r.run_id and step_slug = r.step_slug;
      if v_visible <= now() and not (r.flow_slug = any(v_notify)) then
        v_notify := v_notify || r.flow_slug;
      end if;
    end loop;

    exit when cardinality(v_fin_runs) = 0;
    perform pgflow.cascade_finished(v_fin_runs, v_fin_steps);
  end loop;

  if current_setting('pgflow.claiming', true) = 'on' then
    -- complete_tasks_and_claim claims next in this transaction and tells the other
    -- workers only about what its claim leaves (slugs hold no commas)
    perform set_config('pgflow.ready_flows',
      concat_ws(',', nullif(current_setting('pgflow.ready_flows', true), ''), array_to_string(v_notify, ',')), true);
  else
    perform pg_notify('pgflow_tasks', f) from unnest(v_notify) f;
  end if;
  -- runs that just completed told their watchers so (and a re-read shows every step):
  -- one notification per finished single-step run instead of two
  perform pgflow.notify_run(live.run_id, 'started')
     from pgflow.runs live where live.run_id = any(p_run_ids) and live.status in ('started', 'queued');
end;
$$;

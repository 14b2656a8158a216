-- Starts a run: creates the run, one state per step and the root steps' tasks.
-- With p_idempotency_key, a second start of the same flow and key returns the
-- existing run (also under concurrency: the unique index arbitrates).
-- With p_start_at in the future the run stays 'queued' and its root tasks become
-- visible at that time. A flow's runTimeout counts from the run's start (timeout_at).
-- p_traceparent: the W3C trace context of the span that started the run, stored so
-- every attempt's span joins that trace in whichever process runs it.
-- p_parent_*: the task of a subflow step this run is the child of (start_child_runs).
-- p_concurrency_key: replaces the key of every keyed limit of the run's tasks.
create or replace function pgflow.start_flow(
  p_flow_slug text,
  p_input jsonb default '{}'::jsonb,
  p_run_id uuid default null,
  p_idempotency_key text default null,
  p_priority int default 0,
  p_start_at timestamptz default null,
  p_traceparent text default null,
  p_parent_run_id uuid default null,
  p_parent_step_slug text default null,
  p_parent_task_index int default null,
  p_concurrency_key text default null
)
returns pgflow.runs
language plpgsql
as $$
declare
  v_flow pgflow.flows;
  v_input jsonb := coalesce(p_input, 'null'::jsonb);
  v_steps int;
  v_bad_map text;
  v_queued boolean := p_start_at is not null and p_start_at > now();
  v_run pgflow.runs;
begin
  select * into v_flow from pgflow.flows where flow_slug = p_flow_slug;
  if not found then
    raise exception 'unknown flow "%"', p_flow_slug using errcode = 'PGF02';
  end if;
  if v_flow.deprecated then
    raise exception 'flow "%" is deprecated and accepts no new runs', p_flow_slug using errcode = 'PGF06';
  end if;

  select count(*), min(sub.flow_slug) filter (where sub.deprecated) into v_steps, v_bad_map
    from pgflow.steps s left join pgflow.flows sub on sub.flow_slug = s.subflow_slug
   where s.flow_slug = p_flow_slug;
  if v_bad_map is not null then
    raise exception 'flow "%" runs subflow "%", which is deprecated and accepts no new runs', p_flow_slug, v_bad_map
      using errcode = 'PGF06';
  end if;
  if v_steps = 0 then
    raise exception 'flow "%" has no steps', p_flow_slug using errcode = 'PGF01';
  end if;

  if jsonb_typeof(v_input) <> 'array' then
    select step_slug into v_bad_map from pgflow.steps
     where flow_slug = p_flow_slug and map_source = 'run' order by step_index limit 1;
    if v_bad_map is not null then
      raise exception 'step "%.%" maps over the run input, which must be an array (got %)',
        p_flow_slug, v_bad_map, jsonb_typeof(v_input) using errcode = 'PGF05';
    end if;
  end if;

  -- No exception block here: it would open a subtransaction per run, and a bulk
  -- `select start_flow(...) from generate_series(...)` past 64 of them slows every
  -- session's snapshots (SubtransSLRU). A conflict on either unique key is sorted out below.
  insert into pgflow.runs (run_id, flow_slug, status, input, remaining_steps, priority, idempotency_key,
                           start_at, started_at, timeout_at, traceparent,
                           parent_run_id, parent_step_slug, parent_task_index, concurrency_key)
  values (coalesce(p_run_id, gen_random_uuid()), p_flow_slug,
          case when v_queued then 'queued' else 'started' end, v_input, v_steps,
          coalesce(p_priority, 0), p_idempotency_key, p_start_at,
          case when v_queued then null else now() end,
          case when v_queued then null else now() + make_interval(secs => v_flow.opt_run_timeout) end,
          p_traceparent, p_parent_run_id, p_parent_step_slug, p_parent_task_index, p_concurrency_key)
  on conflict do nothing
  returning * into v_run;

  if v_run.run_id is null then
    if p_idempotency_key is not null then
      select * into v_run from pgflow.runs
       where flow_slug = p_flow_slug and idempotency_key = p_idempotency_key;
      if found then
        return v_run;
      end if;
    end if;
    raise exception 'run id % already exists', p_run_id using errcode = 'PGF05';
  end if;

  insert into pgflow.step_states (run_id, flow_slug, step_slug, remaining_deps)
  select v_run.run_id, s.flow_slug, s.step_slug, s.deps_count
    from pgflow.steps s where s.flow_slug = p_flow_slug;

  perform pgflow.start_ready_steps(array[v_run.run_id]);

  select * into v_run from pgflow.runs where run_id = v_run.run_id;
  return v_run;
end;
$$;

-- Adds a step to a flow. Dependencies must already exist, which also makes cycles
-- impossible at this level. Re-adding an existing step with the same shape updates
-- its options in place; a different shape is refused (use a new flow slug).
create or replace function pgflow.add_step(
  p_flow_slug text,
  p_step_slug text,
  p_deps text[] default '{}',
  p_map_source text default null,
  p_initial_tasks int default null,
  p_max_attempts int default null,
  p_base_delay int default null,
  p_timeout int default null,
  p_start_delay int default null,
  p_if jsonb default null,
  p_if_not jsonb default null,
  p_when_unmet text default 'skip',
  p_when_exhausted text default 'fail',
  p_signal text default null,
  p_signal_timeout int default null,
  p_subflow text default null,
  p_compensate boolean default false
)
returns pgflow.steps
language plpgsql
as $$
declare
  v_deps text[] := coalesce((select array_agg(distinct d order by d) from unnest(p_deps) d), '{}');
  v_existing pgflow.steps;
  v_existing_deps text[];
  v_missing text;
  v_step pgflow.steps;
  v_where text := format('step "%s.%s"', p_flow_slug, p_step_slug);
  v_other text;
begin
  perform pgflow.assert_slug('flow', p_flow_slug);
  perform pgflow.assert_slug('step', p_step_slug);
  perform pgflow.assert_options(p_flow_slug, p_step_slug, p_max_attempts, p_base_delay, p_timeout, p_start_delay);

  perform 1 from pgflow.flows where flow_slug = p_flow_slug for update;
  if not found then
    raise exception 'unknown flow "%"', p_flow_slug using errcode = 'PGF02';
  end if;

  if cardinality(v_deps) <> cardinality(p_deps) then
    raise exception '%: dependencies list a step twice', v_where using errcode = 'PGF01';
  end if;
  if p_step_slug = any(v_deps) then
    raise exception '%: a step cannot depend on itself (cycle: % -> %)', v_where, p_step_slug, p_step_slug
      using errcode = 'PGF01';
  end if;
  select d into v_missing from unnest(v_deps) d
   where not exists (select 1 from pgflow.steps s where s.flow_slug = p_flow_slug and s.step_slug = d)
     and d is distinct from p_step_slug
   limit 1;
  if v_missing is not null then
    raise exception '%: unknown dependency "%"', v_where, v_missing using errcode = 'PGF01';
  end if;
  if p_map_source is not null then
    if cardinality(v_deps) > 1 then
      raise exception '%: a map step can have at most one dependency (has %)', v_where, array_to_string(v_deps, ', ')
        using errcode = 'PGF01';
    end if;
    if p_map_source <> 'run' and not (p_map_source = any(v_deps)) then
      raise exception '%: maps over "%" but does not depend on it', v_where, p_map_source using errcode = 'PGF01';
    end if;
    if p_initial_tasks is not null then
      raise exception '%: initialTasks cannot be combined with map', v_where using errcode = 'PGF01';
    end if;
  end if;
  if p_initial_tasks is not null and p_initial_tasks < 1 then
    raise exception '%: initialTasks must be >= 1 (got %)', v_where, p_initial_tasks using errcode = 'PGF01';
  end if;
  if p_when_unmet not in ('skip', 'skip-cascade') then
    raise exception '%: whenUnmet must be skip or skip-cascade (got %)', v_where, p_when_unmet using errcode = 'PGF01';
  end if;
  if p_when_exhausted not in ('fail', 'skip', 'skip-cascade') then
    raise exception '%: whenExhausted must be fail, skip or skip-cascade (got %)', v_where, p_when_exhausted
      using errcode = 'PGF01';
  end if;
  if p_signal is not null and (p_signal !~ '^[a-zA-Z_][a-zA-Z0-9_]*$' or length(p_signal) > 128) then
    raise exception '%: invalid signal name "%": must match ^[a-zA-Z_][a-zA-Z0-9_]*$ and be at most 128 characters',
      v_where, p_signal using errcode = 'PGF01';
  end if;
  if p_signal_timeout is not null and p_signal_timeout < 1 then
    raise exception '%: signalTimeout must be >= 1 (got %)', v_where, p_signal_timeout using errcode = 'PGF01';
  end if;
  if p_signal_timeout is not null and p_signal is null then
    raise exception '%: signalTimeout needs signal', v_where using errcode = 'PGF01';
  end if;
  select s.step_slug into v_other from pgflow.steps s
   where s.flow_slug = p_flow_slug and s.signal_name = p_signal and s.step_slug <> p_step_slug;
  if v_other is not null then
    raise exception '%: signal "%" is already waited on by step "%" (one step per signal name)',
      v_where, p_signal, v_other using errcode = 'PGF01';
  end if;
  if p_subflow is not null then
    if p_subflow = p_flow_slug then
      raise exception '%: subflow cycle: % -> %', v_where, p_flow_slug, p_flow_slug using errcode = 'PGF01';
    end if;
    select f.flow_slug into v_other from pgflow.flows f where f.flow_slug = p_subflow;
    if v_other is null then
      raise exception '%: subflow "%" is not a defined flow', v_where, p_subflow using errcode = 'PGF01';
    end if;
    if (select f.deprecated from pgflow.flows f where f.flow_slug = p_subflow) then
      raise exception '%: subflow "%" is deprecated and accepts no new runs', v_where, p_subflow using errcode = 'PGF01';
    end if;
    -- a flow the subflow runs (transitively) must not run this flow again
    with recursive reach(flow_slug, path) as (
      select s.subflow_slug, array[p_flow_slug, p_subflow]
        from pgflow.steps s where s.flow_slug = p_subflow and s.subflow_slug is not null
      union
      select s.subflow_slug, r.path || s.subflow_slug
        from reach r join pgflow.steps s on s.flow_slug = r.flow_slug and s.subflow_slug is not null
       where r.flow_slug <> p_flow_slug and cardinality(r.path) < 64
    )
    select array_to_string(path || p_flow_slug, ' -> ') into v_other from reach where flow_slug = p_flow_slug limit 1;
    if v_other is not null then
      raise exception '%: subflow cycle: %', v_where, v_other using errcode = 'PGF01';
    end if;
  end if;
  if (p_if is not null and jsonb_typeof(p_if) <> 'object') or (p_if_not is not null and jsonb_typeof(p_if_not) <> 'object') then
    raise exception '%: if/ifNot must be JSON objects', v_where using errcode = 'PGF01';
  end if;

  select * into v_existing from pgflow.steps where flow_slug = p_flow_slug and step_slug = p_step_slug;
  if found then
    select coalesce(array_agg(dep_slug order by dep_slug), '{}') into v_existing_deps
      from pgflow.deps where flow_slug = p_flow_slug and step_slug = p_step_slug;
    if v_existing_deps <> v_deps then
      raise exception '%: dependencies changed from [%] to [%]; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, array_to_string(v_existing_deps, ', '), array_to_string(v_deps, ', '), p_flow_slug using errcode = 'PGF04';
    end if;
    if v_existing.map_source is distinct from p_map_source then
      raise exception '%: map changed from % to %; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, coalesce(v_existing.map_source, 'none'), coalesce(p_map_source, 'none'), p_flow_slug using errcode = 'PGF04';
    end if;
    if v_existing.initial_tasks is distinct from p_initial_tasks then
      raise exception '%: initialTasks changed from % to %; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, coalesce(v_existing.initial_tasks::text, 'none'), coalesce(p_initial_tasks::text, 'none'), p_flow_slug
        using errcode = 'PGF04';
    end if;
    if v_existing.condition_if is distinct from p_if or v_existing.condition_if_not is distinct from p_if_not then
      raise exception '%: conditions (if/ifNot) changed; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, p_flow_slug using errcode = 'PGF04';
    end if;
    if v_existing.signal_name is distinct from p_signal then
      raise exception '%: signal changed from % to %; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, coalesce(v_existing.signal_name, 'none'), coalesce(p_signal, 'none'), p_flow_slug using errcode = 'PGF04';
    end if;
    if v_existing.subflow_slug is distinct from p_subflow then
      raise exception '%: subflow changed from % to %; a flow''s shape cannot change, use a new flow slug (e.g. "%_v2")',
        v_where, coalesce(v_existing.subflow_slug, 'none'), coalesce(p_subflow, 'none'), p_flow_slug using errcode = 'PGF04';
    end if;
    update pgflow.steps
       set opt_signal_timeout = p_signal_timeout, compensate = coalesce(p_compensate, false),
           opt_max_attempts = p_max_attempts, opt_base_delay = p_base_delay, opt_timeout = p_timeout,
           opt_start_delay = p_start_delay, when_unmet = p_when_unmet, when_exhausted = p_when_exhausted
     where flow_slug = p_flow_slug and step_slug = p_step_slug
    returning * into v_step;
    return v_step;
  end if;

  if exists (select 1 from pgflow.runs r where r.flow_slug = p_flow_slug) then
    raise exception '%: flow "%" already has runs, so adding a step would change its shape; use a new flow slug (e.g. "%_v2")',
      v_where, p_flow_slug, p_flow_slug using errcode = 'PGF04';
  end if;

  insert into pgflow.steps (flow_slug, step_slug, step_index, step_type, map_source, initial_tasks, deps_count,
                            opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay,
                            condition_if, condition_if_not, when_unmet, when_exhausted, signal_name, opt_signal_timeout,
                            subflow_slug, compensate)
  values (p_flow_slug, p_step_slug,
          (select count(*) from pgflow.steps where flow_slug = p_flow_slug),
          case when p_map_source is null then 'single' else 'map' end, p_map_source, p_initial_tasks,
          cardinality(v_deps), p_max_attempts, p_base_delay, p_timeout, p_start_delay,
          p_if, p_if_not, p_when_unmet, p_when_exhausted, p_signal, p_signal_timeout,
          p_subflow, coalesce(p_compensate, false))
  returning * into v_step;

  insert into pgflow.deps (flow_slug, dep_slug, step_slug)
  select p_flow_slug, d, p_step_slug from unnest(v_deps) d;
  return v_step;
end;
$$;

-- Stores the concurrency and rate limits of a flow (p_step_slug null) or of one of
-- its steps, replacing what was stored: limits are options, changed in place. Key
-- paths are dot paths into the run input ('tenant.id'). Keeps flows.limited, which
-- sends claims of the flow's tasks through the limit bookkeeping.
create or replace function pgflow.set_flow_control(
  p_flow_slug text,
  p_step_slug text,
  p_concurrency int default null,
  p_concurrency_key text default null,
  p_rate_limit int default null,
  p_rate_period int default null,
  p_rate_key text default null
)
returns void
language plpgsql
as $$
declare
  v_where text := case when p_step_slug is null then format('flow "%s"', p_flow_slug)
                       else format('step "%s.%s"', p_flow_slug, p_step_slug) end;
begin
  if p_concurrency is not null and p_concurrency < 1 then
    raise exception '%: concurrency.limit must be >= 1 (got %)', v_where, p_concurrency using errcode = 'PGF01';
  end if;
  if p_concurrency_key is not null and p_concurrency is null then
    raise exception '%: concurrency.key needs concurrency.limit', v_where using errcode = 'PGF01';
  end if;
  if p_rate_limit is not null and p_rate_limit < 1 then
    raise exception '%: rateLimit.limit must be >= 1 (got %)', v_where, p_rate_limit using errcode = 'PGF01';
  end if;
  if (p_rate_limit is null) <> (p_rate_period is null) or p_rate_period < 1 then
    raise exception '%: rateLimit needs limit and periodSeconds >= 1 (got %)', v_where, p_rate_period
      using errcode = 'PGF01';
  end if;
  if p_rate_key is not null and p_rate_limit is null then
    raise exception '%: rateLimit.key needs rateLimit.limit', v_where using errcode = 'PGF01';
  end if;
  if p_concurrency_key !~ '^[^.]+(\.[^.]+)*$' or p_rate_key !~ '^[^.]+(\.[^.]+)*$' then
    raise exception '%: a limit key must be a dot path such as "tenant.id"', v_where using errcode = 'PGF01';
  end if;

  if p_step_slug is null then
    update pgflow.flows
       set opt_concurrency = p_concurrency, opt_concurrency_key = p_concurrency_key,
           opt_rate_limit = p_rate_limit, opt_rate_period = p_rate_period, opt_rate_key = p_rate_key
     where flow_slug = p_flow_slug;
  else
    update pgflow.steps
       set opt_concurrency = p_concurrency, opt_concurrency_key = p_concurrency_key,
           opt_rate_limit = p_rate_limit, opt_rate_period = p_rate_period, opt_rate_key = p_rate_key
     where flow_slug = p_flow_slug and step_slug = p_step_slug;
  end if;
  if not found then
    raise exception 'unknown %', v_where using errcode = 'PGF02';
  end if;

  update pgflow.flows f
     set limited = f.opt_concurrency is not null or f.opt_rate_limit is not null
                   or exists (select 1 from pgflow.steps s where s.flow_slug = f.flow_slug
                                 and (s.opt_concurrency is not null or s.opt_rate_limit is not null))
   where f.flow_slug = p_flow_slug;
end;
$$;

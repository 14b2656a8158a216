-- The limit buckets a task with this limit_key counts in, with their current limits
-- (read from the definitions, so a changed limit applies at the next claim).
create or replace function pgflow.limit_buckets(p_flow_slug text, p_limit_key text)
returns table (bucket text, is_rate boolean, lim int, period int)
language plpgsql
stable
as $$
declare
  v_step text := split_part(p_limit_key, ':', 1);
  v_keys jsonb := substr(p_limit_key, length(v_step) + 2)::jsonb;
begin
  return query
  select b.bucket, b.is_rate, b.lim, b.period
    from pgflow.flows f
    join pgflow.steps s on s.flow_slug = f.flow_slug and s.step_slug = v_step
   cross join lateral (values
     (f.flow_slug || '||c|' || coalesce(v_keys->>0, ''), false, f.opt_concurrency, null::int),
     (f.flow_slug || '||r|' || coalesce(v_keys->>1, ''), true, f.opt_rate_limit, f.opt_rate_period),
     (f.flow_slug || '|' || s.step_slug || '|c|' || coalesce(v_keys->>2, ''), false, s.opt_concurrency, null::int),
     (f.flow_slug || '|' || s.step_slug || '|r|' || coalesce(v_keys->>3, ''), true, s.opt_rate_limit, s.opt_rate_period)
   ) as b(bucket, is_rate, lim, period)
   where f.flow_slug = p_flow_slug and b.lim is not null
   order by b.bucket;
end;
$$;

-- The limit buckets a task with this limit_key counts in, with their current limits
-- (read from the definitions, so a changed limit applies at the next claim): the
-- step (null: a flow-level limit) and which value of the key array (and its value,
-- '' for none) the bucket is of (key_index null: the limit has no key). One SQL
-- query, so the planner inlines it into the claim's own statements (a PL/pgSQL
-- function was a call and a result set of its own per key and claim).
create or replace function pgflow.limit_buckets(p_flow_slug text, p_limit_key text)
returns table (bucket text, is_rate boolean, lim int, period int, step_slug text, key_index int, key_value text)
language sql
stable
as $$
  select b.flow || '|' || coalesce(b.step, '') || case when b.is_rate then '|r|' else '|c|' end || b.val,
         b.is_rate, b.lim, b.period, b.step, b.idx, b.val
    from (select split_part(p_limit_key, ':', 1) as step,
                 substr(p_limit_key, length(split_part(p_limit_key, ':', 1)) + 2)::jsonb as keys) k
    join pgflow.flows f on f.flow_slug = p_flow_slug
    join pgflow.steps s on s.flow_slug = f.flow_slug and s.step_slug = k.step
   cross join lateral (values
     (f.flow_slug, null::text, false, f.opt_concurrency, null::int,
      case when f.opt_concurrency_key is not null then 0 end, coalesce(k.keys->>0, '')),
     (f.flow_slug, null::text, true, f.opt_rate_limit, f.opt_rate_period,
      case when f.opt_rate_key is not null then 1 end, coalesce(k.keys->>1, '')),
     (f.flow_slug, s.step_slug, false, s.opt_concurrency, null::int,
      case when s.opt_concurrency_key is not null then 2 end, coalesce(k.keys->>2, '')),
     (f.flow_slug, s.step_slug, true, s.opt_rate_limit, s.opt_rate_period,
      case when s.opt_rate_key is not null then 3 end, coalesce(k.keys->>3, ''))
   ) as b(flow, step, is_rate, lim, period, idx, val)
   where b.lim is not null
   order by 1;
$$;

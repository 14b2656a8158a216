-- Creates a flow or, when it exists, updates its options in place (options never
-- change a flow's shape, so running runs are unaffected).
create or replace function pgflow.create_flow(
  p_flow_slug text,
  p_max_attempts int default null,
  p_base_delay int default null,
  p_timeout int default null,
  p_run_timeout int default null
)
returns pgflow.flows
language plpgsql
as $$
declare
  v_flow pgflow.flows;
begin
  perform pgflow.assert_slug('flow', p_flow_slug);
  perform pgflow.assert_options(p_flow_slug, null, p_max_attempts, p_base_delay, p_timeout, null);
  if p_run_timeout is not null and p_run_timeout < 1 then
    raise exception 'flow "%": runTimeout must be >= 1 (got %)', p_flow_slug, p_run_timeout using errcode = 'PGF01';
  end if;

  insert into pgflow.flows (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout, opt_run_timeout)
  values (p_flow_slug, coalesce(p_max_attempts, 3), coalesce(p_base_delay, 1), coalesce(p_timeout, 60), p_run_timeout)
  on conflict (flow_slug) do update
    set opt_max_attempts = excluded.opt_max_attempts,
        opt_base_delay = excluded.opt_base_delay,
        opt_timeout = excluded.opt_timeout,
        opt_run_timeout = excluded.opt_run_timeout
  returning * into v_flow;
  return v_flow;
end;
$$;

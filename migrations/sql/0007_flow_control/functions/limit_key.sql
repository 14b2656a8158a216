-- The limit_key of a new task of a limited flow: '<step>:' and the JSON array of the
-- key values of its flow concurrency, flow rate, step concurrency and step rate limits
-- (null where the limit has no key or the run input no value). A run's concurrencyKey
-- replaces every value. Values are JSON text, so 1 and "1" are different keys.
create or replace function pgflow.limit_key(p_flow pgflow.flows, p_step pgflow.steps, p_input jsonb,
                                            p_override text)
returns text
language plpgsql
immutable
as $$
declare
  v_override text := to_jsonb(p_override)::text;
begin
  return p_step.step_slug || ':' || jsonb_build_array(
    case when p_flow.opt_concurrency_key is not null then coalesce(v_override,
      nullif((p_input #> string_to_array(p_flow.opt_concurrency_key, '.'))::text, 'null')) end,
    case when p_flow.opt_rate_key is not null then coalesce(v_override,
      nullif((p_input #> string_to_array(p_flow.opt_rate_key, '.'))::text, 'null')) end,
    case when p_step.opt_concurrency_key is not null then coalesce(v_override,
      nullif((p_input #> string_to_array(p_step.opt_concurrency_key, '.'))::text, 'null')) end,
    case when p_step.opt_rate_key is not null then coalesce(v_override,
      nullif((p_input #> string_to_array(p_step.opt_rate_key, '.'))::text, 'null')) end)::text;
end;
$$;

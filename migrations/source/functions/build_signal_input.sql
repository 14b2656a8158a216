-- Input of a task of a step that waited on a signal: the payload of the signal its
-- wait consumed under the key "signal", next to what the step gets otherwise
-- ({"run": ..., "<dep>": ...}; a map task gets {"item": <element>, "signal": ...}).
create or replace function pgflow.build_signal_input(
  p_run_id uuid,
  p_flow_slug text,
  p_step_slug text,
  p_step_type text,
  p_element jsonb,
  p_run_input jsonb
)
returns jsonb
language plpgsql
stable
as $$
declare
  v_payload jsonb;
begin
  select sg.payload into v_payload
    from pgflow.signals sg where sg.run_id = p_run_id and sg.consumed_by = p_step_slug;
  if p_step_type = 'map' then
    return jsonb_build_object('item', p_element, 'signal', v_payload);
  end if;
  return pgflow.build_step_input(p_run_id, p_flow_slug, p_step_slug, p_run_input)
         || jsonb_build_object('signal', v_payload);
end;
$$;

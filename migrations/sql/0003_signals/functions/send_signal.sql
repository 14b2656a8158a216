-- Sends signal `name` to a run; returns the stored signal's id and whether this call
-- stored it. Signals are buffered: one sent before its step waits is taken when the
-- step gets there. A waiting step takes it at once: its tasks are created in this
-- transaction and workers hear of them at commit. The same signal_id for the same run
-- and name is stored once (the stored signal is returned with created = false, also
-- once the run has finished). Refused, with nothing written: an unknown run (PGF03), a
-- name no step of the run's flow waits on or a payload over 16 MiB (PGF05), a finished
-- run (PGF07, its status in DETAIL).
-- The parameters carry the names of the documented signature (send_signal(run_id =>
-- ..., name => ...)), so columns below are always qualified.
create or replace function pgflow.send_signal(run_id uuid, name text, payload jsonb default 'null'::jsonb,
                                              signal_id text default null)
returns pgflow.sent_signal
language plpgsql
as $$
#variable_conflict use_column
declare
  v_run record;
  v_payload jsonb := coalesce(send_signal.payload, 'null'::jsonb);
  v_id text := coalesce(send_signal.signal_id, gen_random_uuid()::text);
  v_stored text;
begin
  if send_signal.name is null then
    raise exception 'signal name must not be null' using errcode = 'PGF05';
  end if;
  if length(v_id) not between 1 and 255 then
    raise exception 'signal id must be 1 to 255 characters (got %)', length(v_id) using errcode = 'PGF05';
  end if;
  if octet_length(v_payload::text) > 16777216 then
    raise exception 'payload of signal "%" is larger than 16 MiB', send_signal.name using errcode = 'PGF05';
  end if;

  select r.run_id, r.flow_slug, r.status into v_run
    from pgflow.runs r where r.run_id = send_signal.run_id for no key update;
  if not found then
    raise exception 'unknown run %', send_signal.run_id using errcode = 'PGF03';
  end if;

  if send_signal.signal_id is not null then
    perform 1 from pgflow.signals sg
     where sg.run_id = v_run.run_id and sg.name = send_signal.name and sg.signal_id = v_id;
    if found then
      return row(v_id, false)::pgflow.sent_signal;
    end if;
  end if;

  if v_run.status not in ('started', 'queued') then
    raise exception 'run % is %: it takes no more signals', v_run.run_id, v_run.status
      using errcode = 'PGF07', detail = v_run.status;
  end if;
  if not exists (select 1 from pgflow.steps s where s.flow_slug = v_run.flow_slug and s.signal_name = send_signal.name) then
    raise exception 'no step of flow "%" waits on signal "%"', v_run.flow_slug, send_signal.name using errcode = 'PGF05';
  end if;

  insert into pgflow.signals as sg (run_id, name, signal_id, payload)
  values (v_run.run_id, send_signal.name, v_id, v_payload)
  returning sg.signal_id into v_stored;

  -- the step waiting on this name, if it waits now, is ready again: start_ready_steps
  -- takes the oldest buffered signal (this one) and creates its tasks
  update pgflow.step_states ss
     set status = 'created', wait_expires_at = null
    from pgflow.steps s
   where ss.run_id = v_run.run_id and ss.status = 'waiting'
     and s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug and s.signal_name = send_signal.name;
  if found then
    perform pgflow.start_ready_steps(array[v_run.run_id]);
  end if;
  return row(v_stored, true)::pgflow.sent_signal;
end;
$$;

-- Appends an ended attempt to a task's attempt history, keeping the last 20: a task
-- that fails forever (retried by hand again and again) must not grow its row without end.
create or replace function pgflow.append_attempt(p_history jsonb, p_attempt jsonb)
returns jsonb
language sql
immutable
as $$
  select case when jsonb_array_length(h) > 20 then jsonb_path_query_array(h, '$[last - 19 to last]') else h end
    from (select coalesce(p_history, '[]'::jsonb) || jsonb_build_array(p_attempt) as h) x
$$;

-- Option ranges shared by flows and steps (all durations in seconds).
create or replace function pgflow.assert_options(
  p_flow_slug text,
  p_step_slug text,
  p_max_attempts int,
  p_base_delay int,
  p_timeout int,
  p_start_delay int
)
returns void
language plpgsql
immutable
as $$
declare
  v_where text := case when p_step_slug is null then format('flow "%s"', p_flow_slug)
                       else format('step "%s.%s"', p_flow_slug, p_step_slug) end;
begin
  if p_max_attempts is not null and p_max_attempts < 1 then
    raise exception '%: maxAttempts must be >= 1 (got %)', v_where, p_max_attempts using errcode = 'PGF01';
  end if;
  if p_base_delay is not null and p_base_delay < 0 then
    raise exception '%: baseDelay must be >= 0 (got %)', v_where, p_base_delay using errcode = 'PGF01';
  end if;
  if p_timeout is not null and p_timeout < 1 then
    raise exception '%: timeout must be >= 1 (got %)', v_where, p_timeout using errcode = 'PGF01';
  end if;
  if p_start_delay is not null and p_start_delay < 0 then
    raise exception '%: startDelay must be >= 0 (got %)', v_where, p_start_delay using errcode = 'PGF01';
  end if;
end;
$$;

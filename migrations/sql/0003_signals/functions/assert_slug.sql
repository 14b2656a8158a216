-- Raises PGF01 naming the offending slug; used by every definition entry point.
create or replace function pgflow.assert_slug(p_kind text, p_slug text)
returns void
language plpgsql
immutable
as $$
begin
  if p_slug is null or p_slug !~ '^[a-zA-Z_][a-zA-Z0-9_]*$' or length(p_slug) > 128 then
    raise exception 'invalid % slug "%": must match ^[a-zA-Z_][a-zA-Z0-9_]*$ and be at most 128 characters',
      p_kind, coalesce(p_slug, '<null>') using errcode = 'PGF01';
  end if;
  if p_kind = 'step' and p_slug = 'run' then
    raise exception 'invalid step slug "run": it is reserved for the run input' using errcode = 'PGF01';
  end if;
  if p_kind = 'step' and p_slug = 'signal' then
    raise exception 'invalid step slug "signal": it is reserved for the signal payload' using errcode = 'PGF01';
  end if;
end;
$$;

-- Retires a flow version: it accepts no new runs, while runs already started finish
-- normally. Pass false to accept runs again.
create or replace function pgflow.deprecate_flow(p_flow_slug text, p_deprecated boolean default true)
returns void
language plpgsql
as $$
begin
  update pgflow.flows set deprecated = coalesce(p_deprecated, true) where flow_slug = p_flow_slug;
  if not found then
    raise exception 'unknown flow "%"', p_flow_slug using errcode = 'PGF02';
  end if;
end;
$$;

-- How many more tasks a bucket (a row of limit_buckets) admits at p_clock. The caller
-- holds the bucket's advisory lock, so what it counts cannot grow until it commits. A
-- concurrency bucket counts its tasks 'started' with a live lease; a rate bucket the
-- starts of the last p_period seconds (a sliding window).
create or replace function pgflow.bucket_room(
  p_flow_slug text, p_bucket text, p_is_rate boolean, p_lim int, p_period int,
  p_step_slug text, p_key_index int, p_key_value text, p_clock timestamptz
)
returns int
language plpgsql
as $$
begin
  if p_is_rate then
    delete from pgflow.limit_starts ls
     where ls.bucket = p_bucket and ls.started_at <= p_clock - make_interval(secs => p_period);
    return p_lim - (select count(*) from pgflow.limit_starts ls where ls.bucket = p_bucket);
  end if;
  return p_lim - (
    select count(*) from pgflow.step_tasks t
     where t.status = 'started' and t.limit_key <> '' and t.flow_slug = p_flow_slug
       and (p_step_slug is null or t.step_slug = p_step_slug)
       and t.lease_expires_at > p_clock
       -- a limit without a key: every task of the flow (or step) is in its one bucket
       and (p_key_index is null
            or coalesce(substr(t.limit_key, strpos(t.limit_key, ':') + 1)::jsonb ->> p_key_index, '') = p_key_value));
end;
$$;

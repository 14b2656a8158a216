-- How many more tasks bucket p_bucket admits at p_clock. The caller holds the bucket's
-- advisory lock, so what it counts cannot change until it commits. A concurrency slot
-- counts while its task is 'started' by that attempt and its lease is live; a rate
-- bucket counts the starts of the last p_period seconds (a sliding window).
create or replace function pgflow.bucket_room(p_bucket text, p_is_rate boolean, p_lim int, p_period int,
                                              p_clock timestamptz)
returns int
language plpgsql
as $$
begin
  if p_is_rate then
    delete from pgflow.limit_starts ls
     where ls.bucket = p_bucket and ls.started_at <= p_clock - make_interval(secs => p_period);
    return p_lim - (select count(*) from pgflow.limit_starts ls where ls.bucket = p_bucket);
  end if;
  delete from pgflow.limit_slots l
   where l.bucket = p_bucket
     and not exists (select 1 from pgflow.step_tasks t
                      where t.run_id = l.run_id and t.step_slug = l.step_slug and t.task_index = l.task_index
                        and t.status = 'started' and t.attempts_count = l.attempt and t.lease_expires_at > p_clock);
  return p_lim - (select count(*) from pgflow.limit_slots l where l.bucket = p_bucket);
end;
$$;

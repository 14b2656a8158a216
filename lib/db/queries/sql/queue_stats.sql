-- Claimable tasks per flow and the age in seconds of the oldest (the OTel queue gauges).
-- Reads the small partial index of queued tasks only.
select t.flow_slug, count(*)::int as ready, extract(epoch from now() - min(t.visible_at))::float8 as oldest_age
  from pgflow.step_tasks t
 where t.status = 'queued' and t.visible_at <= now()
 group by t.flow_slug

-- How many runs each flow has in each status.
select r.flow_slug, r.status, count(*)::int as runs
  from pgflow.runs r
 group by r.flow_slug, r.status

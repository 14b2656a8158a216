-- The signals sent to run $1, oldest first; consumed_by: the step whose wait took it.
select g.name, g.signal_id, g.payload, g.consumed_by, g.created_at, g.consumed_at
  from pgflow.signals g
 where g.run_id = $1
 order by g.created_at, g.signal_id

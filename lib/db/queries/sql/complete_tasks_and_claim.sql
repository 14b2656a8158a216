-- prepared
-- complete_tasks($1), then start_tasks($2..$6) in the same transaction and round trip.
select \ir claimed-task.fragment.sql
  from pgflow.complete_tasks_and_claim($1::jsonb, $2::text[], $3, $4, $5::uuid[], $6)

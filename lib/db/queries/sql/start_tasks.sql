-- prepared
-- Claims up to $3 tasks of flows $1 for worker $2 under a lease of $5 s; runs in $4 get no run_input (the worker has it).
select \ir claimed-task.fragment.sql
  from pgflow.start_tasks($1::text[], $2, $3, $4::uuid[], $5)

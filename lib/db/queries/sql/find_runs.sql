-- prepared
-- Several runs with their step states, in one round trip (the dashboard's event streams
-- read every run a burst of notifications named at once).
\ir run-info.fragment.sql
 where r.run_id = any($1::uuid[])

-- prepared
-- A run with its step states as one JSON column (one round trip).
\ir run-info.fragment.sql
 where r.run_id = $1

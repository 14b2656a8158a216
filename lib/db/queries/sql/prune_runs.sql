-- Deletes at most $2 runs that finished before $1; returns how many.
select pgflow.prune_runs($1, $2) as n

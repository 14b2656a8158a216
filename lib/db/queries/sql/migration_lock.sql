-- Held until the transaction that applies pgflow's migrations ends.
select pg_advisory_xact_lock($1::bigint)

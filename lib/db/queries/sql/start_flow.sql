-- prepared
-- Starts a run of flow $1 with input $2 (run id $3, idempotency key $4, priority $5, start at $6, traceparent $7, concurrency key $8).
select run_id from pgflow.start_flow($1, $2::jsonb, $3::uuid, $4, $5, $6, $7, p_concurrency_key => $8)

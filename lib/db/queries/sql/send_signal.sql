-- Sends signal $2 with payload $3 (JSON text) to run $1; $4: the caller's id, which deduplicates.
select signal_id, created from pgflow.send_signal($1::uuid, $2, $3::jsonb, $4)

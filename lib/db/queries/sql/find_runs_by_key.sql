-- Runs started with idempotency key $1 (at most one per flow), newest first. One probe
-- of runs_idempotency_idx (flow_slug, idempotency_key) per flow, so no flow filter is needed.
\ir run-info.fragment.sql
 where r.idempotency_key = $1 and r.flow_slug in (select f.flow_slug from pgflow.flows f)
 order by r.created_at desc, r.run_id desc

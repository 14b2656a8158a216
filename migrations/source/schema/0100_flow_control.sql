-- Flow control bookkeeping. A bucket is '<flow>|<step or empty>|<c or r>|<key JSON text
-- or empty>'; claims of a bucket are serialized by an advisory lock on its name.
-- Concurrency slots are the bucket's tasks 'started' with a live lease (counted from
-- step_tasks_limited_idx), so a finished or abandoned task frees its slot without any
-- other function knowing about limits. Rate limits keep their starts here, for one
-- period (older ones are pruned by the next claim of the bucket).
create table pgflow.limit_starts (
  bucket     text not null,
  started_at timestamptz not null
);
create index limit_starts_bucket_idx on pgflow.limit_starts (bucket, started_at);
-- Turns of the claims' round-robin: each claim starts with the next flow (and key).
create sequence pgflow.claim_turns;

-- Flow control bookkeeping. A bucket is '<flow>|<step or empty>|<c or r>|<key JSON text
-- or empty>'; claims of a bucket are serialized by an advisory lock on its name.
-- A task holding a concurrency slot: it counts while the task is 'started' by that
-- attempt with a live lease, so a finished or abandoned task frees its slot without
-- any other function knowing this table (dead rows are pruned by the next claim).
create table pgflow.limit_slots (
  bucket     text not null,
  run_id     uuid not null,
  step_slug  text not null,
  task_index int not null,
  attempt    int not null
);
create index limit_slots_bucket_idx on pgflow.limit_slots (bucket);
-- Task starts of a rate-limited bucket within its period (older ones are pruned).
create table pgflow.limit_starts (
  bucket     text not null,
  started_at timestamptz not null
);
create index limit_starts_bucket_idx on pgflow.limit_starts (bucket, started_at);
-- Turns of the claims' round-robin: each claim starts with the next flow (and key).
create sequence pgflow.claim_turns;

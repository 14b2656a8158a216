-- pgflow schema: definitions (flows, steps, deps), runtime (runs, step_states,
-- step_tasks) and worker heartbeats.
create schema if not exists pgflow;

create table pgflow.workers (
  worker_id         text primary key,
  flows             text[] not null default '{}',
  status            text not null default 'online' check (status in ('online', 'stopped')),
  started_at        timestamptz not null default now(),
  last_heartbeat_at timestamptz not null default now(),
  stopped_at        timestamptz
);

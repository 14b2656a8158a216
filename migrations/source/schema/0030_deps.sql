create table pgflow.deps (
  flow_slug  text not null,
  dep_slug   text not null,
  step_slug  text not null,
  created_at timestamptz not null default now(),
  primary key (flow_slug, step_slug, dep_slug),
  foreign key (flow_slug, dep_slug) references pgflow.steps (flow_slug, step_slug) on delete cascade,
  foreign key (flow_slug, step_slug) references pgflow.steps (flow_slug, step_slug) on delete cascade,
  check (dep_slug <> step_slug)
);
create index deps_dep_idx on pgflow.deps (flow_slug, dep_slug);

-- Runs newest first, filtered by flow $1, status $2, created before $3, parent run $5; at most $4.
\ir run-info.fragment.sql
 where ($1::text is null or r.flow_slug = $1) and ($2::text is null or r.status = $2)
   and ($3::timestamptz is null or r.created_at < $3)
   and ($5::uuid is null or r.parent_run_id = $5)
 order by r.created_at desc
 limit $4

-- The dashboard's runs, newest first, filtered by flow $1 and status $2; a page: runs
-- created before time $3, or after run $5 in (created_at, run_id) order (a keyset:
-- no run skipped or repeated however many share a created_at); at most $4. The
-- created_at bound alone is what the indexes on (created_at) and (flow_slug, created_at) seek.
\ir run-info.fragment.sql
 where ($1::text is null or r.flow_slug = $1) and ($2::text is null or r.status = $2)
   and ($3::timestamptz is null or r.created_at < $3)
   and ($5::uuid is null
        or (r.created_at <= (select c.created_at from pgflow.runs c where c.run_id = $5)
            and (r.created_at, r.run_id) < (select c.created_at, c.run_id from pgflow.runs c where c.run_id = $5)))
 order by r.created_at desc, r.run_id desc
 limit $4

-- Creates flow $1, or updates its options (max attempts $2, base delay $3, timeout $4, run timeout $5).
select 1 from pgflow.create_flow($1, $2, $3, $4, $5)

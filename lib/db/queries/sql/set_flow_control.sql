-- Stores the limits of flow $1 (step $2, or null for the flow): concurrency $3 by key $4, rate $5 per $6 s by key $7.
select 1 from pgflow.set_flow_control($1, $2, $3, $4, $5, $6, $7)

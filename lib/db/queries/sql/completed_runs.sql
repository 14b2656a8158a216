-- Which of the runs $1 are completed (run.completed events, only while someone listens).
select run_id, flow_slug from pgflow.runs where run_id = any($1::uuid[]) and status = 'completed'

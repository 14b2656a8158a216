-- Which of the runs $1 were cancelled or failed (or their compensation failed).
select run_id, status from pgflow.runs where run_id = any($1::uuid[]) and status in ('cancelled', 'failed', 'compensation_failed')

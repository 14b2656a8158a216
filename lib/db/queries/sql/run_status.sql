select status from pgflow.runs where run_id = $1

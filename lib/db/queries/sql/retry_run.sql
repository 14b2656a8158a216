-- Resumes failed or cancelled run $1 (PGF05 with the status in DETAIL otherwise).
select 1 from pgflow.retry_run($1)

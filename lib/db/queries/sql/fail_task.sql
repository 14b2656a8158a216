-- Records a failed attempt: retried after the backoff, or exhausted ($6: no further attempts).
select pgflow.fail_task($1, $2, $3, $4, $5, $6) as outcome

-- Cancels run $1; returns its status afterwards (a finished run keeps its own).
select pgflow.cancel_run($1) as status

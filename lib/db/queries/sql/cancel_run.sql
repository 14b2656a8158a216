-- Cancels run $1, compensating its completed steps unless $2 is false; returns its status
-- afterwards (a finished or compensating run keeps its own).
select pgflow.cancel_run($1, $2::boolean) as status

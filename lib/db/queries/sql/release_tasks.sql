-- Gives worker $1's claims back to the queue, attempts uncounted ($2: JSON array of attempts).
select pgflow.release_tasks($1, $2::jsonb)

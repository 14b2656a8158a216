-- 0008_complete_path: runs before functions/.
-- cascade_finished takes the steps' flows and returns the runs it completed: a new
-- signature and return type, so the old one goes first.
drop function pgflow.cascade_finished(uuid[], text[]);

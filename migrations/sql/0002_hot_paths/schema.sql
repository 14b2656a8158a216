-- Runs now complete in cascade_finished, in the update that counts their last step
-- down; nothing calls this any more.
drop function pgflow.maybe_complete_run(uuid[]);

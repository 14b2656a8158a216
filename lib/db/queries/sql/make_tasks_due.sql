-- drain({ skipDelays }): the queued tasks of flows $1 waiting for a retry backoff or a
-- startDelay become claimable now.
update pgflow.step_tasks t
   set visible_at = now()
 where t.status = 'queued' and t.visible_at > now() and t.flow_slug = any($1::text[])

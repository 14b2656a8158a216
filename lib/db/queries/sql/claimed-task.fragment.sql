run_id, flow_slug, step_slug, task_index, attempt, input, run_input, timeout_seconds, lease_expires_at,
       attempt_number, traceparent, compensation

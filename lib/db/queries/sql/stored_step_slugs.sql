select step_slug from pgflow.steps where flow_slug = $1

select pgflow.deprecate_flow($1, $2)

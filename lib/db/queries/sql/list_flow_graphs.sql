-- Every flow with its steps in declaration order: dependencies, map source, signal name.
select f.flow_slug, f.deprecated,
       coalesce((select json_agg(json_build_object(
                  'stepSlug', s.step_slug, 'stepType', s.step_type, 'mapSource', s.map_source,
                  'signalName', s.signal_name,
                  'dependsOn', coalesce((select json_agg(d.dep_slug order by d.dep_slug)
                                           from pgflow.deps d
                                          where d.flow_slug = s.flow_slug and d.step_slug = s.step_slug), '[]'::json))
                  order by s.step_index)
                 from pgflow.steps s where s.flow_slug = f.flow_slug), '[]'::json) as steps
  from pgflow.flows f
 order by f.flow_slug

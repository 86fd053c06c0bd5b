"""The format layer: what users write — YAML files, their locations, value parsers,
validation (pydantic), error translation, cross-checks and the JSON Schema — converted
at load time into the plain values the rest of dawroute works with (routing.profile,
routing.settings). Nothing outside this package imports pydantic or YAML."""

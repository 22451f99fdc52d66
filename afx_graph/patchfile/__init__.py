"""The patch file: safe YAML, reading and writing patches, the schema and ``requires``.
Plain data: it builds no graph."""

"""Where jobs wait: shared-folder claims (claims) or a PostgreSQL queue (queue)."""

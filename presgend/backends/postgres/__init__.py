"""The PostgreSQL backend: procrastinate's queue, for teams whose daemons outgrow one
shared folder. `database` connects and holds every query (from `queries.sql`), `service`
is one daemon's side of the queue, `status` what `presgend status` shows."""

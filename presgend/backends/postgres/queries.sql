-- Every SQL statement the PostgreSQL backend runs, one per `-- name:` block, read once by
-- `database.Queries` (as procrastinate keeps its own in sql/queries.sql).
-- `{owned}` in a query is replaced by the `owned` query below.

-- name: owned
-- the job's row, locked, while it is still the given worker's
SELECT id FROM procrastinate_jobs
 WHERE id = %(job_id)s AND status = 'doing'
   AND worker_id IS NOT DISTINCT FROM %(worker_id)s
   FOR UPDATE

-- name: owns
SELECT count(*) AS n FROM ({owned}) AS owned

-- name: finish_owned
WITH owned AS MATERIALIZED ({owned})
SELECT id, procrastinate_finish_job_v1(id, %(status)s, %(delete_job)s)::text
  FROM owned

-- name: retry_owned
WITH owned AS MATERIALIZED ({owned})
SELECT id, procrastinate_retry_job_v2(id, %(retry_at)s, NULL, NULL, NULL)::text
  FROM owned

-- name: schema
CREATE TABLE IF NOT EXISTS presgend_daemons (
    name text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    worker_id bigint,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now(),
    state jsonb NOT NULL DEFAULT '{}'
)

-- name: has_schema
SELECT to_regclass('procrastinate_jobs') IS NOT NULL
   AND to_regclass('presgend_daemons') IS NOT NULL AS ok

-- name: has_procrastinate
SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS ok

-- name: beat
INSERT INTO presgend_daemons (name, host, pid, worker_id, state)
VALUES (%(name)s, %(host)s, %(pid)s, %(worker_id)s, %(state)s)
ON CONFLICT (name) DO UPDATE
   SET worker_id = EXCLUDED.worker_id, state = EXCLUDED.state, seen_at = now()

-- name: forget_daemon
DELETE FROM presgend_daemons WHERE name = %(name)s

-- name: running_everywhere
SELECT state->'running' AS running FROM presgend_daemons
 WHERE seen_at > now() - make_interval(secs => %(stale)s)

-- name: deferred_folders
SELECT args->>'folder' AS folder FROM procrastinate_jobs
 WHERE task_name = %(task)s AND args->>'folder' = ANY(%(folders)s)

-- name: live_daemons
SELECT d.name, d.host, d.pid, d.worker_id, d.state,
       extract(epoch FROM now() - d.seen_at) AS seen_ago
  FROM presgend_daemons d
 WHERE d.seen_at > now() - make_interval(secs => %(stale)s)
 ORDER BY d.started_at

-- name: jobs_for_status
SELECT j.id, j.status::text AS status, j.args, j.attempts, j.worker_id,
       (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS at
  FROM procrastinate_jobs j
 WHERE j.task_name = %(task)s
   AND (j.status IN ('todo', 'doing')
        OR j.id IN (SELECT id FROM procrastinate_jobs
                     WHERE task_name = %(task)s
                     ORDER BY id DESC LIMIT 50))
 ORDER BY j.id

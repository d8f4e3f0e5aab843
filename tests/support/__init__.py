"""Test support, one module per thing it gives:

* `cli` runs presgend's CLI and writes configs; `frames` measures output videos;
* `daemons` runs real daemon processes and watches their outbox; `http_service` runs
  `presgend serve` and talks to it; `postgres` starts a real PostgreSQL server; `ports`
  finds a free port; `standins` starts the stand-in servers run as processes: `llm`
  (a language model) and `receiver` (a webhook endpoint);
* `talks` holds the scripts the tests speak; `speech` measures word error rates;
* `waiting` polls with a deadline (`poll_until`).

Fixtures stay in `tests/conftest.py`; helpers are imported from these modules.
"""

"""The job pipeline, read top-down as its phases: probe, content, compose (see job.py)."""

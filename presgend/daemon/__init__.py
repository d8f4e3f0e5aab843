"""The daemon: its supervisor and the services it runs (intake, watcher, worker,
housekeeping, outcomes), the job ledger, signals, systemd notify, and status.
"""

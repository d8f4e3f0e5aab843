"""The daemon: its supervisor (daemon.py) and the services it runs (intake, watcher,
worker, housekeeping, outcomes), the job ledger (desk), signals, systemd notify, and
status.
"""

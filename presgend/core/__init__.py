"""What every part shares and that imports nothing above it: config, errors, logs, the
subprocess runner (procs), inputs, the hardware profile, breakers, live settings.
"""

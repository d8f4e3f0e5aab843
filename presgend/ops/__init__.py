"""Operating presgend: doctor, plan, the systemd and launchd units, the demo and its sample
media.
"""

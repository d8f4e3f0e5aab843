"""systemd's notify protocol (`Type=notify`): one datagram per message to $NOTIFY_SOCKET."""

from __future__ import annotations

import contextlib
import os
import socket


def send(message: str) -> bool:
    """Send e.g. "READY=1" or "STATUS=…"; False when not run under a notify socket."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode("utf-8"))
        return True
    return False


def watchdog_interval() -> float | None:
    """How often to send WATCHDOG=1 (half of WatchdogSec), or None when not asked for."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid.isdigit() and int(pid) != os.getpid()):
        return None
    return max(int(usec) / 1e6 / 2, 0.05)

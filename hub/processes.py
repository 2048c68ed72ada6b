"""Process helpers shared by `paved up` and the pipelines service: is a pid alive, stop a process group.

A zombie (exited, not yet reaped by its parent) still answers ``kill(pid, 0)``; for deciding whether a server
or run is still working it is dead, so /proc is consulted where it exists.
"""

from __future__ import annotations

import os
import signal


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def kill_group(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the process group led by ``pid``, if it still exists."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass

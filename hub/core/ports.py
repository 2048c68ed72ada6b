"""Loopback ports for what Paved starts (hub API, proxy API, services, catalog ingest fronts, notebook servers).

Why not "bind to port 0, read the number, close": the kernel hands port-0 binds, and the local side of every
outgoing connection, out of one ephemeral range (``/proc/sys/net/ipv4/ip_local_port_range``, 32768–60999 on
Linux by default). Between our pick and the moment the service binds it (a second or more while its Python
imports), any client on the machine can be given that same port for a connection, and the service then fails
with EADDRINUSE. JupyterHub stops when a managed service exits at start, so one unlucky connection used to take
the whole hub down.

So ports are picked at random *outside* the ephemeral range (below it, from 20000, on a default Linux), where the
kernel never assigns one by itself: only another explicit picker can take it, and a random choice out of the
12 768 ports of 20000–32767 makes that unlikely. A port is checked free (bind with ``SO_REUSEADDR``) before it is
returned.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20000  # above the registered ports most often in use on a workstation (1024–19999: databases, dev servers)
DEFAULT_EPHEMERAL_RANGE = (32768, 60999)  # Linux's default, when the range cannot be read
ROOM = 1000  # the fewest ports a pick range must hold
TRIES = 50

_random = random.SystemRandom()


def ephemeral_range(text: str | None = None) -> tuple[int, int]:
    """The kernel's ephemeral range ``(first, last)``, both included, read from ``text`` (the range file's
    contents, "first last") or from :data:`EPHEMERAL_RANGE_FILE`; :data:`DEFAULT_EPHEMERAL_RANGE` when neither
    can be read."""
    if text is None:
        try:
            text = EPHEMERAL_RANGE_FILE.read_text()
        except OSError:
            return DEFAULT_EPHEMERAL_RANGE
    try:
        first, last = (int(part) for part in text.split()[:2])
    except ValueError:
        return DEFAULT_EPHEMERAL_RANGE
    return first, last


def pick_range(first: int, last: int) -> range:
    """The ports :func:`free_port` picks from when the ephemeral range is ``first``–``last``: ``LOWEST`` up to it;
    else (too little room there, under :data:`ROOM` ports) above it; else anything unprivileged below it; else
    none (an empty range: the ephemeral range covers nearly every port, and :func:`free_port` takes what the
    kernel assigns)."""
    for candidate in (range(LOWEST, first), range(last + 1, 65536), range(1024, first)):
        if len(candidate) >= ROOM:
            return candidate
    return range(0)


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` can be bound now (as a listening server with ``SO_REUSEADDR`` would)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now, outside the kernel's ephemeral range (see the module's docstring); a
    kernel-assigned one only when there is no room outside that range or :data:`TRIES` random picks are all
    taken."""
    ports = pick_range(*ephemeral_range())
    for _ in range(TRIES if ports else 0):
        port = _random.choice(ports)
        if is_free(port, host):
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]

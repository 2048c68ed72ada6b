"""How `make test` shares the test files among its pytest-xdist workers: ``--dist loadfile`` (a file's tests stay
on one worker, so its module-scoped hub starts once), plus a *waiting lane*.

A few files spend minutes waiting for real time to pass (an idle limit of one or two minutes, culler rounds) and
use next to no CPU meanwhile. On a worker of their own they sleep beside the CPU-bound files instead of holding up
one of the workers the machine's CPUs keep busy. So ``-n auto`` starts one worker more than there are CPUs
(:func:`auto_workers`), and :class:`LaneScheduling` keeps the last worker for :data:`WAITING_FILES` (in that
order), and the others for everything else first. The lane stops when its files are done: given CPU-bound files as
well, it would slow every other worker down, and load-sensitive tests with them. A waiting file still queued when
the other workers run out of work goes to whichever worker asks first. An explicit ``-n N`` (or
``PYTEST_XDIST_AUTO_NUM_WORKERS``) has no lane: its N workers share every file, as plain ``loadfile`` does.

A file belongs in :data:`WAITING_FILES` when a large part of its time is a wait for the clock (not for a process
to start or a page to load, which is CPU on this machine), and the lane stays shorter than the others' share.
"""

from __future__ import annotations

import os

import pytest
from xdist.plugin import pytest_xdist_auto_num_workers as xdist_auto_num_workers
from xdist.scheduler import LoadFileScheduling

# longest first: the lane starts them in this order
WAITING_FILES = (
    "tests/test_lab_status_browser.py",  # the idle warning and stop of a server with idle_minutes: 2 (200 s)
    "tests/test_access.py",  # a one-minute grant until the next sweep (60 s of its 90 s)
    "tests/test_culling.py",  # a one-minute idle limit and the culler's rounds (70 s)
    "tests/test_isolation.py",  # a removed member's servers stop within a minute (its poll; 30 s of its 90 s)
    "tests/test_unstarted_servers.py",  # a form's server record kept for its time to live, twice (25 s)
)


LANE = pytest.StashKey[bool]()  # in the config's stash: the worker count has the lane's worker in it


def auto_workers(config: pytest.Config) -> int:
    """The number of workers ``-n auto`` starts: pytest-xdist's own count (a worker per CPU) plus the waiting lane,
    noted in ``config.stash[LANE]``; just xdist's count, with no lane, when ``PYTEST_XDIST_AUTO_NUM_WORKERS`` (its
    own variable) sets it."""
    counted = xdist_auto_num_workers(config)
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return counted
    config.stash[LANE] = True
    return counted + 1


def has_lane(config: pytest.Config) -> bool:
    """Whether this session's worker count has the lane's worker in it (``-n auto``, see :func:`auto_workers`);
    an explicit ``-n N`` keeps all N for every file."""
    return config.stash.get(LANE, False)


class LaneScheduling(LoadFileScheduling):
    """pytest-xdist's ``loadfile`` scheduling with a waiting lane (see the module's docstring).

    It only chooses *which* queued file a worker gets next and when a worker has nothing left it may take; the
    queue, its order (most tests first) and the hand-over of work units are ``LoadFileScheduling``'s own."""

    waiting = WAITING_FILES
    _lane = None  # the worker kept for the waiting files; chosen when the work is first handed out

    def schedule(self) -> None:
        if self.collection is None and len(self.nodes) > 1:
            # the highest-numbered worker (gw0, gw1, …): the others keep the first ids, as without a lane
            self._lane = max(self.nodes, key=lambda node: int(node.gateway.id.lstrip("gw") or 0))
            # served first when the work is handed out, so that no other worker takes a waiting file before it
            self.assigned_work = {self._lane: self.assigned_work.pop(self._lane), **self.assigned_work}
        super().schedule()

    def _next_scope(self, node) -> str | None:
        """The queued file ``node`` takes next: the lane only a waiting file; the other workers any other file
        first, then a waiting file the lane has not started."""
        if node is self._lane:
            return next((scope for scope in self.waiting if scope in self.workqueue), None)
        return next((scope for scope in self.workqueue if scope not in self.waiting), next(iter(self.workqueue), None))

    def _assign_work_unit(self, node) -> None:
        scope = self._next_scope(node)
        if scope is None:
            return
        self.workqueue.move_to_end(scope, last=False)  # LoadFileScheduling hands out the queue's first file
        super()._assign_work_unit(node)

    def _reschedule(self, node) -> None:
        if not node.shutting_down and self.workqueue and self._next_scope(node) is None:
            node.shutdown()  # nothing left it may take; it finishes what it has first
            return
        super()._reschedule(node)

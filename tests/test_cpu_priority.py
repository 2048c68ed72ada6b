"""The control plane's CPU priority (paved.core.processes): the hub runs at nice -5 when root; what runs user
code (servers, kernels, runs) drops back to nice 0, also when it becomes another account."""

from __future__ import annotations

import os
import subprocess

import pytest

from paved.core.processes import CONTROL_PLANE_NICE, USER_NICE, control_plane_priority, user_priority
from paved.scoping.accounts import isolation_possible


def nice_of(preexec) -> int:
    """The niceness of a child started with ``preexec`` (coreutils' ``nice`` without a command prints it; an
    account other than root may not be able to run this Python)."""
    out = subprocess.run(["nice"], preexec_fn=preexec, capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not isolation_possible(), reason="raising a CPU priority needs root")
def test_the_control_plane_runs_above_user_code_and_user_code_goes_back():
    assert nice_of(control_plane_priority) == CONTROL_PLANE_NICE == -5

    def control_then_user():
        control_plane_priority()
        user_priority()

    assert nice_of(control_then_user) == USER_NICE == 0


@pytest.mark.skipif(not isolation_possible(), reason="dropping to another account needs root")
def test_a_dropped_identity_runs_at_user_priority():
    """What a server (cold or forked) and a run do before they run user code, with the hub's priority inherited."""
    from paved.scoping.isolation import Identity

    nobody = 65534

    def become_nobody():
        control_plane_priority()
        Identity(uid=nobody, gid=nobody, groups=(), umask=0o077).drop()

    assert nice_of(become_nobody) == 0


def test_as_another_user_the_priority_is_left_alone():
    if os.geteuid() == 0:
        pytest.skip("as root the priority is raised (the test above)")
    assert nice_of(control_plane_priority) == os.getpriority(os.PRIO_PROCESS, 0)

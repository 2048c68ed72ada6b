"""Where Paved picks its loopback ports (paved.core.ports): below the kernel's ephemeral range, so that no client
connection or port-0 bind elsewhere on the machine can be handed the same port before our server binds it."""

from __future__ import annotations

import socket

import pytest

from paved.core import ports


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("32768\t60999\n", 32768),  # Linux's default
        ("49152 65535", 49152),  # the IANA dynamic range, as some distributions set it
        ("1024 65535", 1024),
        ("", ports.DEFAULT_EPHEMERAL_START),
        ("garbage", ports.DEFAULT_EPHEMERAL_START),
    ],
)
def test_ephemeral_start_is_read_from_the_range_file(text, start):
    assert ports.ephemeral_start(text) == start


@pytest.mark.parametrize(
    ("start", "first", "stop"),
    [
        (32768, 20000, 32768),
        (49152, 20000, 49152),
        (21000, 20000, 21000),  # just room enough below
        (20999, 61000, 65536),  # too little room below: above the usual end instead
        (1024, 61000, 65536),
    ],
)
def test_ports_are_picked_outside_the_ephemeral_range(start, first, stop):
    picked = ports.pick_range(start)
    assert (picked.start, picked.stop) == (first, stop)
    assert start not in picked


def test_free_port_is_below_the_machines_ephemeral_range_and_bindable():
    low = ports.ephemeral_start()
    picked = {ports.free_port() for _ in range(20)}
    assert all(p in ports.pick_range(low) for p in picked), picked
    assert len(picked) > 1, "the same port every time: not a random pick"
    for port in picked:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_taken_port_is_not_free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports.free_port()))
        s.listen()
        assert not ports.is_free(s.getsockname()[1])

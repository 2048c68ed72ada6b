"""Where Paved picks its loopback ports (paved.core.ports): below the kernel's ephemeral range, so that no client
connection or port-0 bind elsewhere on the machine can be handed the same port before our server binds it."""

from __future__ import annotations

import socket

import pytest

from paved.core import ports


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32768\t60999\n", (32768, 60999)),  # Linux's default
        ("49152 65535", (49152, 65535)),  # the IANA dynamic range, as some distributions set it
        ("1024 65535", (1024, 65535)),
        ("", ports.DEFAULT_EPHEMERAL_RANGE),
        ("garbage", ports.DEFAULT_EPHEMERAL_RANGE),
        ("32768", ports.DEFAULT_EPHEMERAL_RANGE),
    ],
)
def test_the_ephemeral_range_is_read_from_the_range_file(text, expected):
    assert ports.ephemeral_range(text) == expected


@pytest.mark.parametrize(
    ("first", "last", "picked"),
    [
        (32768, 60999, range(20000, 32768)),  # Linux's default: below it
        (49152, 65535, range(20000, 49152)),
        (21000, 60999, range(20000, 21000)),  # just room enough below
        (20500, 60999, range(61000, 65536)),  # too little room below: above it
        (15000, 63000, range(63001, 65536)),  # nothing below 20000 to take: above it
        (15000, 64900, range(1024, 15000)),  # too little room below 20000 or above: any unprivileged port below
        (1024, 65535, range(0)),  # no room anywhere: free_port takes what the kernel assigns
        (1500, 64900, range(0)),
    ],
)
def test_ports_are_picked_outside_the_ephemeral_range(first, last, picked):
    chosen = ports.pick_range(first, last)
    assert chosen == picked
    assert not set(chosen) & set(range(first, last + 1))


def test_free_port_is_outside_the_machines_ephemeral_range_and_bindable():
    first, last = ports.ephemeral_range()
    picked = {ports.free_port() for _ in range(20)}
    assert not any(first <= p <= last for p in picked), picked
    assert len(picked) > 1, "the same port every time: not a random pick"
    for port in picked:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_taken_port_is_not_free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports.free_port()))
        s.listen()
        assert not ports.is_free(s.getsockname()[1])

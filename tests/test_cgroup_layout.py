"""Where a server's cgroup goes and what it weighs (paved.scoping.limits), on a fake cgroup filesystem.

A burst of spawns (issue 13): servers' cgroups side by side at the top weighed two busy processes each (m5.large:
2 vCPUs) against the hub's one, so fifty starting servers left the hub about 1% of the CPU and it reported them
ready late and in one batch. Now they live in one parent per Paved weighted as the machine's CPUs, like the
kubelet's ``kubepods``; within it each server still weighs its vCPUs. A real cgroup filesystem cannot be made
here for both versions, so the kernel's files are plain files in a temp folder (``cgroup.procs``, ``cpu.shares``
... are what the kernel would show).
"""

from __future__ import annotations

import pytest

from paved.scoping import limits

GIB = 1024**3


@pytest.fixture(params=["v1", "v2"])
def cgroup_fs(request, tmp_path, monkeypatch):
    """A fake /sys/fs/cgroup of that version, with 2 CPUs on the machine."""
    if request.param == "v2":
        (tmp_path / "cgroup.controllers").write_text("cpu memory")
    else:
        (tmp_path / "memory").mkdir()
        (tmp_path / "cpu").mkdir()
    monkeypatch.setattr(limits, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(limits, "machine_cpus", lambda: 2)
    return request.param, tmp_path


@pytest.mark.parametrize(
    ("user", "notebook", "expected_leaf"),
    [
        ("alice", "alpha", "alice--alpha"),
        ("bob", "meaningful-ostrich", "bob--meaningful-ostrich"),
        ("ünï cødé", "a/b", "_n__c_d_--a_b"),  # nothing but [A-Za-z0-9_.-]: never a path of its own
    ],
)
def test_a_servers_cgroup_is_named_inside_its_paveds_parent(user, notebook, expected_leaf):
    name = limits.cgroup_name("/data", user, notebook, "paved-")
    parent, leaf = name.split("/")
    assert parent == limits.cgroup_name("/data", "someone", "else", "paved-").split("/")[0]
    assert parent.startswith("paved-") and parent != limits.cgroup_name("/other", user, notebook).split("/")[0]
    assert leaf == expected_leaf


@pytest.mark.parametrize(
    ("instance_vcpus", "server_weight_v1", "server_weight_v2"),
    [(2, 2048, 200), (8, 8192, 800), (0.5, 512, 50)],
)
def test_servers_weigh_their_vcpus_inside_a_parent_weighing_the_machine(
    cgroup_fs, instance_vcpus, server_weight_v1, server_weight_v2
):
    version, root = cgroup_fs
    procs = [limits.create(limits.cgroup_name("/data", f"u{i}", "burst"), 4 * GIB, instance_vcpus) for i in range(50)]
    assert all(procs), "every server got its cgroups"
    parent_name = limits.cgroup_name("/data", "u0", "burst").split("/")[0]
    if version == "v2":
        parent = root / parent_name
        # 50 servers together weigh as the 2-CPU machine (2 busy processes), not 50 x their vCPUs
        assert (parent / "cpu.weight").read_text() == "200"
        assert set((parent / "cgroup.subtree_control").read_text().split()) == {"+memory", "+cpu"}
        assert procs[0] == [str(parent / "u0--burst" / "cgroup.procs")]
        assert (parent / "u0--burst" / "cpu.weight").read_text() == str(server_weight_v2)
        assert (parent / "u0--burst" / "memory.max").read_text() == str(4 * GIB)
        assert not list(root.glob("*--burst")), "no server cgroup beside the hub at the top"
    else:
        parent = root / "cpu" / parent_name
        assert (parent / "cpu.shares").read_text() == "2048"
        assert procs[0] == [
            str(root / "memory" / parent_name / "u0--burst" / "cgroup.procs"),
            str(parent / "u0--burst" / "cgroup.procs"),
        ]
        assert (parent / "u0--burst" / "cpu.shares").read_text() == str(server_weight_v1)
        assert (root / "memory" / parent_name / "u0--burst" / "memory.limit_in_bytes").read_text() == str(4 * GIB)
        assert not list((root / "cpu").glob("*--burst")), "no server cgroup beside the hub at the top"


def _drop_kernel_files(root):
    """A fake filesystem keeps the control files, which rmdir would refuse; the kernel removes them with the
    folder, so they go here first."""
    for f in sorted(root.rglob("*"), reverse=True):
        if f.is_file() and f.name != "cgroup.controllers":
            f.unlink()


def test_stopping_a_server_keeps_the_parent_and_the_next_start_cleans_up(cgroup_fs):
    version, root = cgroup_fs
    name = limits.cgroup_name("/data", "alice", "alpha", "pvx-")
    other = limits.cgroup_name("/data", "bob", "beta", "pvx-")
    assert limits.create(name, GIB, 1) and limits.create(other, GIB, 1)
    _drop_kernel_files(root)
    top = root if version == "v2" else root / "cpu"
    assert limits.remove(name)
    assert not (top / name).exists() and (top / other).exists()  # the parent stays for other servers
    limits.remove_all("/data", "pvx-")  # `paved up` at start: what its last run left, parent included
    assert not list(top.glob("pvx-*"))
    assert not list((root / "memory").glob("pvx-*")) if version == "v1" else True


def test_a_pipeline_runs_cgroup_is_made_when_no_server_made_the_parent_yet(cgroup_fs):
    """A run attempt's cgroup (paved.pipelines.runner) sits in the same parent; the first run of a Paved may come
    before its first server, so making it makes the parent too (it was [] then: the run's detached processes
    outlived it)."""
    version, root = cgroup_fs
    name = limits.cgroup_name("/data", "run", "attempt-1")
    procs = limits.create_group(name)
    expected = [root / name] if version == "v2" else [root / "memory" / name, root / "cpu" / name]
    assert procs == [str(folder / "cgroup.procs") for folder in expected]
    assert all(folder.is_dir() for folder in expected)

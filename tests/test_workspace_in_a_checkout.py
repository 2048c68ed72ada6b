"""A Paved data dir inside a git checkout (``make up`` keeps it in the clone, ``.paved``): JupyterLab's Git
extension in a server there answers, rather than failing on the checkout around the workspace (found by the
issue 16 review: a 500 and a console error on every JupyterLab page of the documented set-up)."""

from __future__ import annotations

import subprocess

from hubs import start_paved, stop, stop_process_group, wait_ready

PROJECT = "imbalance-price-forecast"


def test_a_server_in_a_data_dir_inside_a_git_checkout_answers_jupyterlab_git(tmp_path):
    repo = tmp_path / "clone"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    hub = start_paved(repo / ".paved")
    try:
        api = hub.api("alice")
        r = api.post(f"{hub.url}/hub/api/users/alice/servers/in-repo", json={"project": PROJECT})
        assert r.status_code in (201, 202), r.text
        wait_ready(hub, "alice", "in-repo")
        # jupyterlab-git's first call as JupyterLab opens: git, run as the server's account, looked above the
        # workspace, found the root-owned checkout and refused it
        r = api.post(f"{hub.url}/user/alice/in-repo/git/show_prefix", json={"path": ""})
        assert r.status_code == 200, r.text
        assert "dubious ownership" not in r.text
        stop(hub, "alice", "in-repo")
    finally:
        stop_process_group(hub.proc)

"""paved_lab.lsp: a Paved server's language server manager finds Node.js servers without running npm; a site's
own ``node_roots`` and servers Paved did not start are left alone."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from jupyter_lsp.manager import LanguageServerManager
from traitlets.config import Config

from paved_lab.lsp import node_roots, use_paved_node_roots


def test_roots_are_the_servers_folder_its_python_and_the_global_prefixes():
    assert node_roots(Path("/w/alice"), "/opt/venv") == [
        "/w/alice",
        "/opt/venv/lib",
        "/opt/venv",
        "/usr/local/lib",
        "/usr/local",
        "/usr/lib",
        "/usr",
    ]
    assert node_roots(Path("/w"), "/usr") == ["/w", "/usr/lib", "/usr", "/usr/local/lib", "/usr/local"]


def test_the_manager_gets_them_and_never_runs_npm(monkeypatch):
    app = SimpleNamespace(config=Config())
    assert use_paved_node_roots(app, env={"PAVED_PROJECT": "p"}) is True
    ran = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: ran.append(a))
    manager = LanguageServerManager(config=app.config)
    assert manager.node_roots == node_roots(Path.cwd())
    manager.init_language_servers()
    assert ran == []  # jupyter_lsp's default node_roots would run `npm prefix -g` here
    assert "pylsp" in manager.language_servers


def test_a_sites_roots_and_other_servers_are_left_alone():
    app = SimpleNamespace(config=Config({"LanguageServerManager": {"node_roots": ["/site"]}}))
    assert use_paved_node_roots(app, env={"PAVED_PROJECT": "p"}) is False
    assert app.config.LanguageServerManager.node_roots == ["/site"]
    app = SimpleNamespace(config=Config())
    assert use_paved_node_roots(app, env={}) is False
    assert "node_roots" not in app.config.LanguageServerManager

"""paved_lab.page_config: in a server Paved started, JupyterLab's heavy extensions are deferred (activated once
the page is restored), adding to whatever the page config already defers; elsewhere nothing changes."""

from __future__ import annotations

from types import SimpleNamespace

from paved_lab.page_config import DEFERRED, paved_page_config, use_paved_page_config


def server_app(settings: dict):
    return SimpleNamespace(web_app=SimpleNamespace(settings=settings))


def test_heavy_extensions_are_deferred_and_the_rest_kept():
    config = {"deferredExtensions": ["other-ext", "@jupyterlab/git"], "disabledExtensions": ["x"], "appName": "JL"}
    out = paved_page_config(None, config)
    assert out["deferredExtensions"] == [
        "other-ext",
        "@jupyterlab/git",
        "nbdime-jupyterlab",
    ]
    assert out["disabledExtensions"] == ["x"] and out["appName"] == "JL"
    # not jupyterlab-lsp: its completion would miss a notebook opened before it activated
    assert set(DEFERRED) == {"@jupyterlab/git", "nbdime-jupyterlab"}


def test_only_a_paved_server_gets_the_hook_and_an_earlier_hook_still_runs():
    settings: dict = {}
    assert use_paved_page_config(server_app(settings), env={}) is False
    assert "page_config_hook" not in settings

    def earlier(handler, config):
        return {**config, "earlier": True}

    settings = {"page_config_hook": earlier}
    assert use_paved_page_config(server_app(settings), env={"PAVED_PROJECT": "p"}) is True
    out = settings["page_config_hook"](None, {"deferredExtensions": []})
    assert out["earlier"] is True and out["deferredExtensions"] == list(DEFERRED)

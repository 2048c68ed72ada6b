"""Where Paved keeps its state: one object, :class:`Paths`, built from the data dir.

The data dir is decided in one place. The hub decides it from ``c.Paved.data_dir``
(:class:`paved.core.settings.Paved`) and :func:`use` makes that the process's paths, so the hub's own look-ups (the
notebook form's prices, the budget check, the price book a refresh wrote) read the same files as its services, also
on Kubernetes, where nothing puts the data dir into the hub's environment. Every process Paved starts (services,
notebook servers, pipeline runs) gets it in its environment as :data:`ENV` (:meth:`Paths.environment`); that is
also how Paved finds the processes one data dir left behind after a crash (``paved.core.processes.pids_with_env``).
A process that is given nothing (a CLI run by hand) uses ``./.paved``. The environment wins over :func:`use`: a
process keeps the data dir it was started with.

This module is the only one that reads :data:`ENV`; everything else asks :func:`paths`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

#: the environment variable that carries the data dir into the processes Paved starts
ENV = "PAVED_DATA_DIR"
#: the data dir when none is given: ``.paved`` in the working directory (resolved, so children agree)
FALLBACK = ".paved"


def given_data_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The data dir given to this process through its environment (resolved), or None when none was given."""
    value = (os.environ if environ is None else environ).get(ENV)
    return Path(value).resolve() if value else None


@dataclass(frozen=True)
class Paths:
    """The files and folders of one data dir. ``data_dir`` is an absolute path; every attribute is a Path."""

    data_dir: Path

    @classmethod
    def of(cls, data_dir: str | os.PathLike) -> "Paths":
        return cls(Path(data_dir).resolve())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Paths":
        """The paths of the data dir given in the environment (:data:`ENV`), else of ``./.paved``."""
        return cls(given_data_dir(environ) or Path(FALLBACK).resolve())

    def environment(self) -> dict[str, str]:
        """What a child process needs in its environment to use these paths (and to be found as this data dir's)."""
        return {ENV: str(self.data_dir)}

    @property
    def projects_file(self) -> Path:
        """The projects YAML when ``c.Paved.projects_file`` names none."""
        return self.data_dir / "projects.yaml"

    @property
    def usage_db(self) -> Path:
        """The usage ledger's SQLite file (when no ``usage_db_url`` is set)."""
        return self.data_dir / "usage.sqlite"

    @property
    def pipelines_db(self) -> Path:
        """The pipelines run store's SQLite file (when no ``db_url`` is set)."""
        return self.data_dir / "pipelines.sqlite"

    @property
    def pricebook(self) -> Path:
        """Where ``paved prices refresh`` writes the refreshed price book, and where it is looked for."""
        return self.data_dir / "pricebook.json"

    @property
    def run_dir(self) -> Path:
        """Runtime files: pid files, per-server folders, generated service config files."""
        return self.data_dir / "run"

    @property
    def secrets_dir(self) -> Path:
        """Root-only files handing secrets to services (paved.core.secret_env)."""
        return self.data_dir / "secrets"

    @property
    def workspaces(self) -> Path:
        """One workspace per notebook: ``<workspaces>/<user>/<notebook>``."""
        return self.data_dir / "workspaces"


_current: Paths | None = None


def use(data_dir: str | os.PathLike) -> Paths:
    """Make ``data_dir`` this process's data dir (the hub's ``setup(c)`` calls it with ``c.Paved.data_dir``)."""
    global _current
    _current = Paths.of(data_dir)
    return _current


def given() -> Paths | None:
    """This process's paths when it was given a data dir: in its environment (a process Paved started keeps the
    one it was given), else by :func:`use` (the hub's ``c.Paved.data_dir``); None when it was given none."""
    data_dir = given_data_dir()
    return Paths(data_dir) if data_dir else _current


def paths() -> Paths:
    """This process's paths (:func:`given`), else those of ``./.paved``."""
    return given() or Paths.from_env()

# Paved: the two set-up commands of the README.
#   make up    installs Paved into .venv (and its node tools into ./node_modules), then starts the embedded hub
#   make test  installs the same plus test needs (Debian chromium for browser tests), then runs pytest
# Re-running is fast: each install step re-runs only when its inputs changed.
# Both install VS Code (code-server, into ./node_modules/.code-server) for the "VS Code" interface;
#   PAVED_VSCODE=0 (e.g. `make up PAVED_VSCODE=0`) skips that install and hides VS Code from the form.
SHELL := /bin/bash
# Debian's python3, not one from a user's home (pyenv under /root): notebook servers run as per-user accounts
# (see README, "Isolation") and must be able to execute the venv's interpreter and read its packages.
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DATA_DIR ?= .paved
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: up down test lint install install-test code-server
PAVED_VSCODE ?= 1
export PAVED_VSCODE

up: install
	$(BIN)/paved up --port $(PORT) --data-dir $(DATA_DIR) $(ARGS)

# Stop the Paved of DATA_DIR, also after a crash (hub, proxy, services, notebook servers).
down:
	$(BIN)/paved down --data-dir $(DATA_DIR)

# Test files run on one pytest-xdist worker per CPU (a file's tests stay together with their module's hub), plus
# one worker kept for the files that mostly wait for the clock (tests/lanes.py): most of the suite waits on hubs,
# kernels, culling and schedules rather than computing, so two workers on two cores took 26 min where one took 38
# (same machine, same load). Each worker has its own temp root and account prefix (tests/hubs.py).
# PYTEST_ARGS="-n 0" runs them in one process.
test: install-test lint
	$(BIN)/python -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

# Static checks of the Python: one style (ruff), the rooms' one-way imports (import-linter, ARCHITECTURE.md),
# types (pyright, basic mode; [tool.pyright] in pyproject.toml says what it reads).
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(CURDIR)/node_modules/.bin/pyright

install: $(VENV)/.installed $(VENV)/.installed-lab node_modules/.installed $(if $(filter 0,$(PAVED_VSCODE)),,code-server) /usr/bin/setfacl /usr/bin/bwrap /etc/profile.d/paved.sh

# A login shell inside a notebook server (bash -l, tmux) runs /etc/profile, which resets PATH: this file puts the
# server's Python, with `paved`, back in front (issue 15, item 2; spawner/data/profile.sh says how).
/etc/profile.d/paved.sh: spawner/data/profile.sh
	install -D -m 0644 $< $@

# Debian's acl: data access grants reach local lakes as POSIX ACLs (paved.scoping.acl).
/usr/bin/setfacl:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q acl

# Debian's bubblewrap: the optional filesystem sandbox of notebook servers (c.LocalProjectSpawner.sandbox = "bwrap",
# paved.scoping.sandbox).
/usr/bin/bwrap:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap

install-test: install $(VENV)/.installed-test tests/oidc/node_modules/.installed /usr/bin/chromium postgresql

# Debian's PostgreSQL: DuckLake's catalog for many writers (c.Pipelines.ducklake_catalog_url); the tests start a
# throwaway cluster of their own (tests/test_ducklake_postgres.py). Its binaries' path names the major version.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql)
.PHONY: postgresql

# A venv made from another interpreter (e.g. an older checkout's pyenv one) is rebuilt from $(PYTHON).
VENV_BASE := $(shell test -x $(BIN)/python && $(BIN)/python -c 'import sys; print(sys.base_prefix)' 2>/dev/null)
PYTHON_BASE := $(shell test -x $(PYTHON) && $(PYTHON) -c 'import sys; print(sys.base_prefix)' 2>/dev/null)
ifneq ($(VENV_BASE),)
ifneq ($(VENV_BASE),$(PYTHON_BASE))
$(shell rm -rf $(VENV))
endif
endif

$(BIN)/python: | /usr/share/doc/python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Debian's interpreter and venv module (already there on most Debian machines).
/usr/share/doc/python3-venv:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv

# A strict editable install: a tree of links (build/__editable__.*) that static tools (pyright, jedi, grimp for
# import-linter) can follow, unlike an import hook. It links files one by one, so it is redone when a file is
# added or removed under the rooms' folders (the stamp's name is a digest of the file list).
EDITABLE := --config-settings editable_mode=strict
SOURCE_LIST := $(shell find hub spawner promote -type f -not -path '*/__pycache__/*' 2>/dev/null | LC_ALL=C sort | md5sum | cut -c1-16)
$(VENV)/.sources-$(SOURCE_LIST): | $(BIN)/python
	rm -f $(VENV)/.sources-*
	touch $@

$(VENV)/.installed: $(BIN)/python pyproject.toml $(VENV)/.sources-$(SOURCE_LIST)
	$(BIN)/pip install -q -e . $(EDITABLE)
	touch $@

# The JupyterLab extension is its own package; its built assets are committed, so no Node build here.
LAB_EXTENSION_FILES := $(shell find extensions/paved-lab/paved_lab extensions/paved-lab/jupyter-config extensions/paved-lab/pyproject.toml -type f -not -path '*/__pycache__/*' 2>/dev/null)
$(VENV)/.installed-lab: $(VENV)/.installed $(LAB_EXTENSION_FILES)
	$(BIN)/pip install -q ./extensions/paved-lab
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e ".[test]" $(EDITABLE)
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# code-server 4.100.x (runs on Node 20) without downloads outside npm/Debian; a no-op when already installed.
code-server: node_modules/.installed
	scripts/install-code-server.sh

tests/oidc/node_modules/.installed: tests/oidc/package.json
	cd tests/oidc && npm install --no-audit --no-fund --loglevel=error
	touch $@

# Browser tests drive Debian's chromium through playwright (never `playwright install`).
/usr/bin/chromium:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# The JupyterLab extension's TypeScript (extensions/paved-lab): eslint and tsc on src/ and its tests, prettier
# --check, and the component tests (vitest + Testing Library, jsdom). Its node_modules are installed again when
# its package.json or lock changes (npm install, not npm ci: see extensions/paved-lab/README.md, "Develop").
LAB_DIR := extensions/paved-lab
.PHONY: lint-ts
test: lint-ts
lint-ts: $(LAB_DIR)/node_modules/.installed
	cd $(LAB_DIR) && npm run --silent lint && npm run --silent format:check && npm test --silent

$(LAB_DIR)/node_modules/.installed: $(LAB_DIR)/package.json $(LAB_DIR)/package-lock.json
	cd $(LAB_DIR) && npm install --no-audit --no-fund --loglevel=error
	touch $@

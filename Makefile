# credkit — the README's commands. Each target bootstraps what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.credkit-installed
NODE_DIR := tests/interop
NODE_STAMP := $(NODE_DIR)/node_modules/.credkit-installed
CHROMIUM := /usr/bin/chromium
# The frontend is built by `pip install` (hatch-jupyter-builder); a change to it reinstalls.
FRONTEND := $(wildcard extensions/src/*.ts extensions/style/*) extensions/package.json extensions/yarn.lock
# The employers' static verify page, bundled from verifier/ (npm lock + esbuild); shipped in kit/data.
VERIFY_PAGE := kit/data/verify.html
VERIFY_SOURCES := verifier/package.json verifier/package-lock.json verifier/build.mjs $(wildcard verifier/src/*) $(wildcard kit/data/contexts/*)
LAB_LEARNER ?= ada

.PHONY: demo test bench lab clean system-packages

# The virtualenv is rebuilt whenever the pins or the frontend change.
$(STAMP): pyproject.toml constraints.txt hatch_build.py $(FRONTEND) $(VERIFY_PAGE)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

$(VERIFY_PAGE): $(VERIFY_SOURCES)
	cd verifier && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

# The independent verifier (Digital Bazaar's libraries) for the interop tests, from the npm lock.
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: system-packages $(STAMP)
	$(BIN)/credkit demo --out demo

# Debian packages the tests use (the grading sandbox's bubblewrap and useradd; runuser; PostgreSQL
# for the ledger tests), installed only when missing.
system-packages:
	bash tools/system-packages.sh

# The browser tests drive Debian's Chromium (Playwright's own browser download fails offline).
$(CHROMIUM):
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

test: system-packages $(STAMP) $(NODE_STAMP) | $(CHROMIUM)
	$(BIN)/pytest

# JupyterLab on a demo learner's wallet (make demo first): LAB_LEARNER=<name> picks another one.
lab: $(STAMP)
	@test -d demo/wallets/$(LAB_LEARNER) || { echo "no demo/wallets/$(LAB_LEARNER): run 'make demo' first" >&2; exit 1; }
	$(BIN)/jupyter lab --notebook-dir=demo $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --Credkit.wallet_root="$(CURDIR)/demo/wallets" --Credkit.learner_id=$(LAB_LEARNER)

bench: system-packages $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo $(NODE_DIR)/node_modules verifier/node_modules $(VERIFY_PAGE) extensions/node_modules extensions/lib extensions/credkit_jupyter/labextension extensions/tsconfig.tsbuildinfo

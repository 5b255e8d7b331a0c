# credkit — the README's commands. Each target bootstraps what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.credkit-installed
NODE_DIR := tests/interop
NODE_STAMP := $(NODE_DIR)/node_modules/.credkit-installed

.PHONY: demo test bench lab clean system-packages

# The virtualenv is rebuilt whenever the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

# The independent verifier (Digital Bazaar's libraries) for the interop tests, from the npm lock.
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: system-packages $(STAMP)
	$(BIN)/credkit demo --out demo

# Debian packages the tests use (the grading sandbox's bubblewrap, setpriv and prlimit; PostgreSQL
# for the ledger tests), installed only when missing.
system-packages:
	bash tools/system-packages.sh

test: system-packages $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest

bench: system-packages $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo $(NODE_DIR)/node_modules

# credkit — the README's commands. Each target bootstraps what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.credkit-installed
NODE_DIR := tests/interop
NODE_STAMP := $(NODE_DIR)/node_modules/.credkit-installed

.PHONY: demo test bench lab clean sandbox-tools

# The grading sandbox's system tools (bubblewrap; setpriv and prlimit from util-linux).
# apt-get runs only when one is missing.
SANDBOX_TOOLS := bwrap setpriv prlimit
sandbox-tools:
	@missing=""; for t in $(SANDBOX_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing the grading sandbox's tools (missing:$$missing)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq bubblewrap util-linux; \
	fi

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

demo: $(STAMP)
	$(BIN)/credkit demo --out demo

test: $(STAMP) $(NODE_STAMP) sandbox-tools
	$(BIN)/pytest

bench: $(STAMP) $(NODE_STAMP) sandbox-tools
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo $(NODE_DIR)/node_modules

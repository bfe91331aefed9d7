# Two entry points for a fresh machine: `make run` (the local stack) and `make test` (the one check).
# Each creates .venv on first use and refreshes it when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

NODE_DEPS := tests/js/node_modules/.installed tests/js/lodestar-current/node_modules/.installed

.PHONY: run test check format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Independent implementations the tests cross-check against (e.g. the aws4 SigV4 signer).
tests/js/node_modules/.installed: tests/js/package.json
	npm install --silent --prefix tests/js --no-package-lock --no-audit --no-fund
	touch $@

tests/js/lodestar-current/node_modules/.installed: tests/js/lodestar-current/package.json
	npm install --silent --prefix tests/js/lodestar-current --no-package-lock --no-audit --no-fund
	touch $@

run: $(STAMP)
	$(VENV)/bin/nitro-wallet up $(ARGS)

test: $(STAMP) $(NODE_DEPS)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/check

check: test

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build src/*.egg-info tests/js/node_modules

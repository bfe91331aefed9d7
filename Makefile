# Two entry points for a fresh machine: `make run` (the local stack) and `make test` (the one check).
# Each creates .venv on first use and refreshes it when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test check format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/nitro-wallet up $(ARGS)

test: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/check

check: test

format: $(STAMP)
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build src/*.egg-info

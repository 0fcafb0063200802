# The one front door, for people and CI.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install services migrate seed run run-replicas test lint format bench observe observe-down clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

services:
	service/scripts/ensure-services.sh

migrate: install services
	$(PY) -m shop migrate

seed: migrate
	$(PY) -m shop seed

run: migrate
	$(PY) -m shop seed --if-empty
	$(PY) -m shop serve

# N replicas on consecutive ports with the Redis lock backend: make run-replicas N=3
N ?= 3
run-replicas: migrate
	$(PY) -m shop seed --if-empty
	PY=$(PY) service/scripts/run-replicas.sh $(N)

lint: install
	$(VENV)/bin/ruff check service tests loadtest
	$(VENV)/bin/ruff format --check service tests loadtest
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format service tests loadtest
	$(VENV)/bin/ruff check --fix service tests loadtest

test: install services lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Side-by-side benchmarks; results are committed under docs/benchmarks/.
bench: install services
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(PY) loadtest/bench_ceiling.py --out docs/benchmarks/ceiling.md
	$(PY) loadtest/bench.py runtime --out docs/benchmarks/runtime.md
	$(PY) loadtest/bench.py observability --out docs/benchmarks/observability.md

# Prometheus, Alertmanager and the exporters beside a running shop (`make run`), from Debian's
# packages: SHOP_URL=http://127.0.0.1:8081,http://127.0.0.1:8082 make observe for replicas.
observe:
	observability/local/observe.sh up

observe-down:
	observability/local/observe.sh down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

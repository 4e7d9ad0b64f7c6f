# OneStop — the two commands a newcomer needs are `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: install run demo test docs check-docs fuzz fault soak bench bench-smoke profile clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml tools/asyncapi/package.json
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	cd tools/asyncapi && npm ci --silent --no-audit --no-fund
	touch $(STAMP)

install: $(STAMP)

## run the four services + SMTP and SMS sinks locally (no Docker)
run: install
	./scripts/ensure-rabbitmq.sh
	$(BIN)/python -m onestop.dev.launcher

## submit sample dossiers to a running platform and follow them
demo: install
	$(BIN)/onestop demo

## the whole test suite: unit, service, integration on real RabbitMQ, e2e (with the
## benchmark's smoke run), then the fault suite in its bounded form (700 dossiers a scenario, to keep
## CI within its time; `make fault` runs 2,000, `make soak` 10,000)
test: install
	./scripts/ensure-rabbitmq.sh
	./scripts/ensure-chromium.sh  # issue 17: the console's browser test drives Debian's chromium
	# test vhosts left by killed runs (their makers gone, no client on them; never another's): each holds
	# about 100 quorum queues, and a broker at its file-handle limit stops taking connections
	$(BIN)/python -m onestop.dev.rabbit_admin clean --yes
	$(BIN)/python -m pytest --ignore=tests/e2e $(PYTEST_ARGS)
	# e2e in a process of its own: after it, in the same process, the provider-outage
	# test's broker connections time out (not understood yet; see the closing notes)
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)
	FAULT_DOSSIERS=700 $(BIN)/python -m pytest -m fault tests/fault -s $(PYTEST_ARGS)

## schemathesis against each service's /openapi.json, 200 examples per operation (new ones at each run; `make test`
## runs 25 per operation, the same every time; about 20 s): 0 server errors, 0 answers the document does not list
fuzz: install
	./scripts/ensure-rabbitmq.sh
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest tests/integration/test_openapi_fuzz.py $(PYTEST_ARGS)

## the fault suite alone: crashes, restarts, outages, poison, floods, alarms (part of `make test`);
## it restarts and alarms a RabbitMQ node it starts for the run (tests/fault/node.py), never the shared one
fault: install
	./scripts/ensure-rabbitmq.sh
	FAULT_DOSSIERS=$${FAULT_DOSSIERS:-2000} $(BIN)/python -m pytest -m fault tests/fault -s $(PYTEST_ARGS)

## the long run of the fault suite: 10,000 dossiers per scenario (about 45 minutes)
soak: install
	./scripts/ensure-rabbitmq.sh
	FAULT_DOSSIERS=10000 $(BIN)/python -m pytest -m fault tests/fault -s $(PYTEST_ARGS)

## the benchmark (about 20 minutes): the broker's limit, the pipeline's highest sustained rate,
## 60/s for 10 minutes, half the highest rate, two workers; writes bench/results/<date>.json
bench: install
	./scripts/ensure-rabbitmq.sh
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## the benchmark in miniature (what CI runs inside `make test`)
bench-smoke: install
	./scripts/ensure-rabbitmq.sh
	$(BIN)/python -m bench.run --smoke --out var/bench/smoke.json

## where each service spends its CPU under load (py-spy); RATE=20 PROFILE_SECONDS=30
profile: install
	./scripts/ensure-rabbitmq.sh
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m bench.profile --rate $${RATE:-20} --seconds $${PROFILE_SECONDS:-30}

## regenerate docs/events.md, docs/asyncapi.yaml, docs/access.md, docs/openapi/*.json and docs/security.md from
## the schemas and tables (and the broker's definitions from its users' table)
docs: install
	$(BIN)/python -m onestop.dev.docsgen
	$(BIN)/python -m onestop.ops.brokerusers definitions

## fail if a generated doc (events.md, asyncapi.yaml, access.md, openapi/*.json) is older than the schemas
check-docs: install
	$(BIN)/python -m onestop.dev.docsgen --check
	$(BIN)/python -m onestop.ops.brokerusers definitions --check

## everything made here but the services' data (var/data: the embedded store and the audit checkpoints),
## the audit log's signing keys (var/keys) and the broker's users for compose (var/rabbitmq): delete them by
## hand, on purpose
clean:
	rm -rf $(VENV) tools/asyncapi/node_modules
	test ! -d var || find var -mindepth 1 -maxdepth 1 ! -name data ! -name keys ! -name rabbitmq -exec rm -rf {} +

## delete leftover test vhosts (onestop-it-*, onestop-test-*, ...; never another's, never one in use):
## lists them and asks; CLEAN_ARGS=--yes deletes without asking. Nothing else ever deletes a vhost.
.PHONY: clean-test-vhosts
clean-test-vhosts: install
	$(BIN)/python -m onestop.dev.rabbit_admin clean $(CLEAN_ARGS)

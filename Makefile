# The front door. `make help` lists every target.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEPS   := $(VENV)/.deps-installed

.DEFAULT_GOAL := help
.PHONY: help install run-monolith run-micro load demo compare verdicts bench audit scale test test-unit test-contract fuzz test-containers reset clean

help: ## List every target
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(DEPS): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

install: $(DEPS) ## Create .venv and install the pinned dependencies (the other targets do this themselves)

run-monolith: $(DEPS) ## Run the monolith on :8000 in the foreground (Ctrl-C stops it)
	$(BIN)/python -m monolith

run-micro: $(DEPS) ## Run the 7 services and the gateway (Envoy, or GATEWAY=python) on :8080 in the foreground (Ctrl-C stops all)
	$(BIN)/python -m microservices

# The Locust web UI's address, and where `make load` finds the deployments (the same variables
# `make run-monolith`, `make run-micro` and `make demo` read).
LOCUST_WEB_HOST ?= 127.0.0.1
LOCUST_WEB_PORT ?= 8089
MONOLITH_PORT   ?= 8000
GATEWAY_PORT    ?= 8080
export LOCUST_WEB_HOST LOCUST_WEB_PORT
load: $(DEPS) ## Locust web UI on :8089 (LOCUST_WEB_PORT); start the shop first (it finds it at MONOLITH_PORT, GATEWAY_PORT)
	$(BIN)/locust -f loadtests/locustfile.py --web-host $(LOCUST_WEB_HOST) --web-port $(LOCUST_WEB_PORT) \
		--monolith-url http://127.0.0.1:$(MONOLITH_PORT) --microservices-url http://127.0.0.1:$(GATEWAY_PORT) \
		--host http://127.0.0.1:$(MONOLITH_PORT)

demo: $(DEPS) ## Both deployments and the Locust web UI (LOCUST_WEB_PORT, MONOLITH_PORT, GATEWAY_PORT, ...)
	$(BIN)/python -m loadtests.demo

SHAPE   ?= spike
REPEATS ?= 1
compare: $(DEPS) ## Headless comparison with a report: SCENARIO=spike|autoscale|overload|... REPEATS QUICK=1 (the README lists every option)
	$(BIN)/python -m loadtests.compare $(if $(SCENARIO),--scenario $(SCENARIO),--shape $(SHAPE)) --repeats $(REPEATS) $(if $(QUICK),--quick) $(if $(OUT),--out $(OUT)) $(if $(MODEL),--model $(MODEL)) $(if $(ADMISSION),--admission $(ADMISSION)) $(if $(SUT_CPU),--sut-cpu $(SUT_CPU)) $(if $(BASELINE_RPS),--baseline-rps $(BASELINE_RPS)) $(if $(PEAK_RPS),--peak-rps $(PEAK_RPS)) $(if $(CAPACITY_FROM),--capacity-from $(CAPACITY_FROM))

SUMMARIES ?= $(wildcard results/*/summary.json)
verdicts: $(DEPS) ## The verdicts of `make compare` runs as one Markdown table (SUMMARIES=path/summary.json ...)
	@test -n "$(SUMMARIES)" || { echo "no results/*/summary.json yet: run make compare first (or pass SUMMARIES=...)"; exit 2; }
	$(BIN)/python -m loadtests.verdicts $(SUMMARIES)

bench: $(DEPS) ## Ratios: framework limit, monolith, microservices, one hop (3 repeats); QUICK=1 for a smoke run
	$(BIN)/python -m loadtests.bench $(if $(QUICK),--quick) $(if $(OUT),--out $(OUT))

DEPLOYMENT ?= monolith
audit: $(DEPS) ## Check a deployment's data: one charge per paid order, no leaked stock (DEPLOYMENT=monolith|microservices)
	$(BIN)/python -m loadtests.audit $(DEPLOYMENT)

scale: $(DEPS) ## Change a running process's workers live: SERVICE=monolith|gateway|catalog|... WORKERS=n
	@test -n "$(SERVICE)" -a -n "$(WORKERS)" || { echo "usage: make scale SERVICE=catalog WORKERS=4"; exit 2; }
	$(BIN)/python -m loadtests.scale $(SERVICE) $(WORKERS)

test: $(DEPS) ## Run every test, layer by layer: unit, contract, fuzz, load, deploy (pytest.ini)
	$(BIN)/python -m pytest

test-unit: $(DEPS) ## Run only the fast unit tests (no processes, no network; seconds)
	$(BIN)/python -m pytest -m unit

test-contract: $(DEPS) ## Run only the public-API tests against both deployments
	$(BIN)/python -m pytest -m contract

FUZZ_EXAMPLES ?= 200
fuzz: $(DEPS) ## Deep fuzzing of both deployments with schemathesis (FUZZ_EXAMPLES per operation, SEED=n to replay; CI runs a bounded one)
	$(BIN)/python -m tests.support.fuzz --max-examples $(FUZZ_EXAMPLES) $(if $(SEED),--seed $(SEED))

test-containers: $(DEPS) ## Build the images and run both deployments on Docker (Compose, Swarm): needs a Docker engine; not part of `make test`
	SHOP_CONTAINER_TESTS=1 $(BIN)/python -m pytest tests/containers -vv --durations=5

reset: ## Wipe all data (both deployments re-seed on their next start)
	rm -rf data

clean: reset ## Remove the virtualenv, data and caches
	rm -rf $(VENV) .pytest_cache results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

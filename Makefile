# AnomalyWatch. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTO_SRC := $(shell find protos -name '*.proto')
PROTO_STAMP := anomalywatch/.generated
# numba's on-disk cache (cache=True) notices a change of a function's own file only, not of the
# kernels it calls in other files: drop every cached kernel whenever any kernel source changes.
KERNEL_SRC := $(shell find services/detect/kernels -name '*.py')
KERNEL_STAMP := $(VENV)/.kernels-compiled-from
CORPUS := var/bench/corpus

.DEFAULT_GOAL := help
.PHONY: help setup proto run test test-unit test-e2e lint bench-quality bench-kernel bench-forecast bench-load bench-write bench-anomalies bench-catch-up clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $@

setup: $(STAMP) $(PROTO_STAMP) $(KERNEL_STAMP) ## create the virtual environment, install pinned dependencies, generate code

$(KERNEL_STAMP): $(STAMP) $(KERNEL_SRC)
	find services bench -path '*/__pycache__/*' \( -name '*.nbi' -o -name '*.nbc' \) -delete
	touch $@

$(PROTO_STAMP): $(STAMP) $(PROTO_SRC)
	rm -rf anomalywatch
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO_SRC)
	touch $@

proto: $(PROTO_STAMP) ## generate the Python gRPC code from protos/ into ./anomalywatch

run: setup ## start every service on localhost (SQLite under ./var), print the gateway URL and an admin key
	$(BIN)/anomalywatch run

test: setup ## run the whole test suite (PostgreSQL/Redis tests skip with a reason when none answers)
	$(BIN)/pytest

test-unit: setup ## tests that start no process and need no server
	$(BIN)/pytest -m "not e2e and not postgres and not redis"

test-e2e: setup ## end-to-end tests against the real processes
	$(BIN)/pytest -m e2e

lint: setup ## ruff
	$(BIN)/ruff check .

$(CORPUS)/labels.json:
	mkdir -p $(CORPUS)
	$(BIN)/python ../shared/bench/gen_corpus.py --seed 1 --out $(CORPUS)

bench-quality: setup $(CORPUS)/labels.json ## detection quality on the dev corpus (seed 1) and real/donut
	$(BIN)/python -m bench.quality --corpus $(CORPUS) --donut ../shared/bench/real/donut

bench-kernel: setup ## kernel points/s on 20 M points over 10 k series beside a bare numba loop
	$(BIN)/python -m bench.kernel

bench-forecast: setup ## M4 Hourly: MASE, sMAPE, 95 % coverage and ms per series for each model
	$(BIN)/python -m bench.forecast --data ../shared/bench/forecast/m4-hourly

bench-load: setup ## drive the running system on loopback: throughput and latency percentiles
	$(BIN)/python -m bench.load

bench-write: setup ## catalog's write path in process: CPU per transaction by series per call, SQLite and PostgreSQL
	$(BIN)/python -m bench.write_path --postgres

bench-anomalies: setup ## anomaly list/counts/stats latency and write cost at 1 M anomalies, SQLite and PostgreSQL
	$(BIN)/python -m bench.anomaly_list --count 1000000 --sqlite-path var/bench/anomalies-1m.db --postgres-db aw_bench_anomalies_1m

bench-catch-up: setup ## detect's catch-up check and its index's write cost, with and without it, SQLite and PostgreSQL
	$(BIN)/python -m bench.catch_up --postgres

clean: ## remove the virtual environment, generated code and local data
	rm -rf $(VENV) anomalywatch var .pytest_cache

# Sparkify on Airflow: every entry point of the project. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-compiled-$(shell cksum requirements.lock | cut -d' ' -f1)
UV_VERSION := 0.13.8
# The interpreter the virtualenv is made with: python3.11 when it is on PATH, else python3 (checked to be 3.11).
PYTHON ?= $(shell command -v python3.11 || command -v python3 || echo python3)

# make demo / make seed: a data folder in the course layout (default: generated Sparkify-shaped data)
DATA  ?=
START ?= 2018-11-15T00
END   ?= 2018-11-16T00
SEED  ?= 42

.PHONY: help install up down airflow env seed data demo report aws-up aws-down rehearse bench test test-fast lint test-deps clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock
	@$(PYTHON) tools/prerequisites.py  # Python 3.11 and PostgreSQL's binaries, before anything is built
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# -qq: pip's warnings about this machine's package-index settings are not the newcomer's business; errors show
	@$(VENV)/bin/pip install -qq --disable-pip-version-check uv==$(UV_VERSION)
	@echo "installing the pinned packages (requirements.lock) into $(VENV) with uv"
	@$(VENV)/bin/uv pip install -q --python $(PY) -r requirements.lock
	@# Bytecode compiled once, here: uv installs none, and where PYTHONDONTWRITEBYTECODE is set no process writes
	@# any, so every Airflow process would compile thousands of modules from source as it starts.
	@$(PY) -m compileall -q -j 0 $(VENV)/lib >/dev/null
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## build .venv from requirements.lock (pinned; uv)

up: $(STAMP)  ## start the local stack (PostgreSQL + S3 emulator) in the background; idempotent
	@$(PY) -m tools.stack up

down:  ## stop Airflow (if started) and the local stack by PID; idempotent
	@if [ -x $(PY) ]; then $(PY) -m tools.airflow_stack down && $(PY) -m tools.stack down; fi

# AWS_ENV=<file>: start against AWS with the settings make aws-up wrote (secrets backend; nothing local is used).
AWS_ENV ?=
airflow: $(STAMP)  ## start Airflow 3 (loopback only) on the local stack, or on AWS with AWS_ENV=.local/aws/<prefix>.env; prints URL, login and the connections it uses (masked)
	@$(PY) -m tools.airflow_stack up $(if $(AWS_ENV),--aws-env $(AWS_ENV),--seed-live $(SEED))

env: $(STAMP)  ## start the stack if needed and print shell exports: eval "$$(make -s env)"
	@$(PY) -m tools.stack up >&2
	@$(PY) -m tools.stack env

seed: up  ## upload DATA (default: generated data) into the emulated bucket
	@$(PY) -m tools.seed $(if $(DATA),--data $(DATA),--generate --seed $(SEED))

demo: up  ## load START..END on the embedded default (whole days: sparkify_etl_daily, else hourly), print counts + quality
	@$(PY) -m tools.seed $(if $(DATA),--data $(DATA),--generate --seed $(SEED))
	@$(PY) -m tools.demo --start $(START) --end $(END)

report: up  ## answer the analytics questions in the local warehouse (after make demo) and write the HTML report; prints where
	@$(PY) -m tools.report

# The AWS side (infra/aws/sparkify-warehouse.yaml): DRY_RUN=1 prints the plan and changes nothing.
AWS_PREFIX ?= sparkify
WAREHOUSE ?= serverless
AWS_ARGS = --prefix $(AWS_PREFIX) $(if $(filter 1,$(DRY_RUN)),--dry-run)
aws-up: $(STAMP)  ## create/update the AWS side (two IAM roles, work bucket, Redshift Serverless or WAREHOUSE=provisioned, Airflow's secrets); writes .local/aws/$(AWS_PREFIX).env
	@$(PY) -m tools.aws up $(AWS_ARGS) --warehouse $(WAREHOUSE) $(if $(DATA_BUCKET),--data-bucket $(DATA_BUCKET)) \
	  $(if $(WORK_BUCKET),--work-bucket $(WORK_BUCKET)) $(if $(TRUSTED_PRINCIPAL),--trusted-principal $(TRUSTED_PRINCIPAL)) \
	  $(if $(MAX_RPU),--max-rpu $(MAX_RPU)) $(if $(USAGE_LIMIT),--usage-limit $(USAGE_LIMIT)) \
	  $(if $(ALLOWED_CIDR),--allowed-cidr $(ALLOWED_CIDR)) $(if $(filter 1,$(ALLOW_PUBLIC)),--allow-public)

aws-down: $(STAMP)  ## delete all of it — stack, work bucket, secrets — and check nothing is left (DRY_RUN=1: print what would go)
	@$(PY) -m tools.aws down $(AWS_ARGS) --warehouse $(WAREHOUSE)

compose-env: $(STAMP)  ## generate docker compose's secrets into .env (git-ignored, 0600): admin password, JWT secret, API secret key, Fernet key; keeps existing ones
	@$(PY) -m tools.compose_env

SCALE ?= 1
data: $(STAMP)  ## generate N× the course volume into .local/data/scale-N: make data SCALE=10 [SONGS=20000]
	@$(PY) -m tools.datagen --out .local/data/scale-$(SCALE) --scale $(SCALE) --seed $(SEED) $(if $(SONGS),--songs $(SONGS))

BENCH_SCALES ?= 1 10 100
CURVE_SCALES ?= 300
BIG_MB ?= 1024
BACKFILL_REPEAT ?= 1
bench: up  ## benchmark at N× (BENCH_SCALES): staging vs raw COPY/peers (dlt, sling), ETL vs floor DAG → bench/results.md + .png
	@$(PY) -m bench --scales $(BENCH_SCALES) --curve-scales $(CURVE_SCALES) --big-mb $(BIG_MB) --backfill-repeat $(BACKFILL_REPEAT)

lint: $(STAMP)  ## ruff + sqlfluff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint include/sql

test-deps:  ## install Debian's chromium (web-UI tests) and redis-server (Celery test) with apt if missing (as root; else says the command)
	@$(PYTHON) tools/prerequisites.py --for-tests

# pytest-xdist workers, one test file at a time each (a file's tests share its servers and warehouses), the
# slowest files first (tests/conftest.py SLOW_FILES). The suite is CPU-bound on 2 cores: 4 and 6 workers both
# take ~400 s, 7 took 452 s.
TEST_WORKERS ?= 4
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The tests need PostgreSQL and S3 running, not the `airflow` metadata DB (`airflow db migrate`: ~9 s).
test: lint $(STAMP) test-deps  ## ruff, sqlfluff and the whole pytest suite (unit, DAG integrity, integration, Airflow, web UI)
	@$(PY) -m tools.stack servers
	$(PYTEST) $(PYTEST_ARGS)

rehearse: $(STAMP)  ## day one on AWS, rehearsed offline: aws-up → Airflow (AWS_ENV) → stage_events, stage_songs, publish_report → aws-down, on moto with IAM enforced (~1 min; part of make test)
	@$(PY) -m tools.stack servers
	$(PY) -m pytest tests/rehearsal $(PYTEST_ARGS)

test-fast: $(STAMP)  ## inner loop: unit, DAG integrity, operators on the local stack (no Airflow processes, no course data)
	@$(PY) -m tools.stack servers
	$(PYTEST) -m "not airflow and not course_data" $(PYTEST_ARGS)

clean: down  ## stop the stack and delete .local/ and .venv/
	rm -rf .local $(VENV)

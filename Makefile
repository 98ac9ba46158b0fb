# Two set-up commands for users: `make run` and `make test`. Both install what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check fmt lint types unit bench bench-e2e bench-latency bench-failover soak asterisk promtool chromium screenshots clean

$(STAMP): pyproject.toml
	@if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-dev; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

asterisk: $(STAMP)
	$(BIN)/acd asterisk install

# Asterisk runs in the background (its own session, so Ctrl-C reaches only the controller);
# the controller runs in the foreground and Asterisk is stopped when it exits.
run: $(STAMP) asterisk
	@mkdir -p -m 0700 var
	$(BIN)/acd asterisk start
	@echo "acd: wallboard http://127.0.0.1:8080/#token=demo-admin-token, agent panel http://127.0.0.1:8080/agent"
	@echo "acd: API http://127.0.0.1:8080/api/v1 (token demo-admin-token), metrics http://127.0.0.1:8080/metrics, events http://127.0.0.1:8080/api/v1/events"
	@echo "acd: simulated callers and agents from [demo] in acd.example.toml (ACD_DEMO_ENABLED=0 make run: none); Ctrl-C stops both"
	@trap '$(BIN)/acd asterisk stop' EXIT; $(BIN)/acd serve --config acd.example.toml

# promtool checks and unit-tests monitoring/prometheus (tests/monitoring); Debian's prometheus
# package ships it.
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends prometheus; }

# Headless Chromium and the chromedriver Selenium drives (tests/browser, make screenshots);
# Debian's packages, never a browser downloaded by Selenium.
chromium:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium chromium-driver; }

test: $(STAMP) asterisk promtool chromium
	$(BIN)/pytest -n 2 --dist loadgroup

unit: $(STAMP)
	$(BIN)/pytest -m 'not asterisk and not sip'

fmt: $(STAMP)
	$(BIN)/ruff format acd api agi tests bench docker

lint: $(STAMP)
	$(BIN)/ruff check acd api agi tests bench docker

types: $(STAMP)
	$(BIN)/mypy

check: $(STAMP)
	$(BIN)/ruff format --check acd api agi tests bench docker
	$(BIN)/ruff check acd api agi tests bench docker
	$(BIN)/mypy
	$(MAKE) test

bench: $(STAMP)
	$(BIN)/python bench/router.py

# Our ACD against Asterisk's Queue() on real Asterisk (bench/e2e.py); E2E_ARGS=--quick for a
# short smoke run. Writes bench/results/e2e.json and e2e.png.
bench-e2e: $(STAMP) asterisk
	$(BIN)/python bench/e2e.py $(E2E_ARGS)

# Agent hangs up → next waiting caller's Dial to that agent begins (AMI timestamps), 200 calls.
bench-latency: $(STAMP) asterisk
	$(BIN)/python bench/dispatch_latency.py $(LATENCY_ARGS)

# 10,000 calls on the real Asterisk with the controller SIGKILLed three times; prints a table
# and writes bench/results/soak.json (SOAK_ARGS="--calls 2000" for a shorter run).
soak: $(STAMP) asterisk
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

# Two cluster nodes on the real Asterisk, Redis and PostgreSQL: 20 SIGKILLs of the leader under
# steady traffic (kill to first offer p50/p99/max) and the standby's lag at 50 calls/s; writes
# bench/results/failover.json (FAILOVER_ARGS="--kills 5" for a shorter run).
bench-failover: $(STAMP) asterisk
	$(BIN)/python bench/failover.py $(FAILOVER_ARGS)

# docs/wallboard.png (1600x900), docs/wallboard-phone.png (390x844), docs/agent-panel.png:
# the pages on a real Asterisk and `acd serve` with calls flowing (tests/browser/screenshots.py).
screenshots: $(STAMP) asterisk chromium
	$(BIN)/python -m tests.browser.screenshots

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

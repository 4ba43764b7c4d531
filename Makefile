# Portside: `make run` (the embedded default) and `make test` (the whole suite) do all the
# set-up on a fresh machine: Python packages into .venv (uv, from uv.lock), and the Debian
# packages the tests and the embedded default need.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
# Running needs only the registry of the embedded default; the tests push with skopeo and
# drive a real browser and check deploy/ with promtool and systemd-analyze; the benchmarks
# also load the webhook with wrk.
RUN_PACKAGES := docker-registry
TEST_PACKAGES := $(RUN_PACKAGES) skopeo chromium prometheus systemd slapd ldap-utils
BENCH_PACKAGES := $(TEST_PACKAGES) wrk debootstrap time
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install install-runtime system-deps run test lint typecheck unit integration e2e bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# The runtime alone (make run), or the runtime with the dev group (tests, lint, benchmarks).
# --inexact: a later `make run` keeps the dev tools that `make test` installed.
# Compiled to bytecode at install (uv does not by default, unlike pip): where Python may not
# write it (PYTHONDONTWRITEBYTECODE, a read-only install), every process would compile each
# module it imports again, 2.5 s at each start of `portside` or of a re-match's worker.
$(VENV)/.runtime: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --no-dev --inexact --compile-bytecode --python $(PYTHON)
	$(BIN)/python -m compileall -q src >/dev/null
	@touch $@

$(VENV)/.dev: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	$(BIN)/python -m compileall -q src >/dev/null
	@touch $@ $(VENV)/.runtime

install-runtime: $(VENV)/.runtime

install: $(VENV)/.dev

PACKAGES ?= $(TEST_PACKAGES)
system-deps:
	@missing=""; for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

run: install-runtime
	$(MAKE) --no-print-directory system-deps PACKAGES="$(RUN_PACKAGES)"
	$(BIN)/portside run

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

test: install system-deps lint typecheck
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

integration: install system-deps
	$(BIN)/pytest tests/integration

e2e: install system-deps
	$(BIN)/pytest tests/e2e

bench: install
	$(MAKE) --no-print-directory system-deps PACKAGES="$(BENCH_PACKAGES)"
	$(BIN)/python -m bench.webhook_ingest
	$(BIN)/python -m bench.event_processing
	$(BIN)/python -m bench.sync_walk
	$(BIN)/python -m bench.scan_image
	$(BIN)/python -m bench.rematch

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

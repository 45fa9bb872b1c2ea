# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB_PORT ?= 8000
SANDBOX_PORT ?= 8100
export WEB_PORT SANDBOX_PORT

.PHONY: install run test test-quick lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The embedded setup: SQLite + django-q2's ORM broker, the channel sandbox, demo data, web and
# both worker clusters. Ctrl-C stops everything (and make exits 0). The web process is the
# Procfile's, gunicorn, as in production; with DEBUG=1 WhiteNoise serves static files straight
# from static/ (no reload).
run: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py migrate --noinput -v0
	DEBUG=1 $(BIN)/python manage.py collectstatic --noinput -v0
	DEBUG=1 SANDBOX_URL=http://127.0.0.1:$(SANDBOX_PORT) $(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  xSale (V2):     http://127.0.0.1:$(WEB_PORT)/"
	@echo "  Django admin:   http://127.0.0.1:$(WEB_PORT)/admin/"
	@echo "  Channel sandbox: http://127.0.0.1:$(SANDBOX_PORT)/_sandbox/"
	@echo "  Login: demo / demo"
	@echo ""
	@# announce_ready prints the URLs again once the web answers, and when the workers run.
	@# tools/foreground.py gives the terminal to honcho's process group: Ctrl-C stops every
	@# process through honcho and never reaches make, which ends quietly with status 0. (exec:
	@# no shell between make and it that a SIGINT to make's own group could kill.)
	exec env DEBUG=1 SANDBOX_URL=http://127.0.0.1:$(SANDBOX_PORT) PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/python -m tools.foreground --beside "python manage.py announce_ready \
		--web-port $(WEB_PORT) --sandbox-port $(SANDBOX_PORT)" honcho start

# The whole suite, what CI runs (.ci/run: once on SQLite + the ORM broker, once with
# DATABASE_URL / REDIS_URL on PostgreSQL + Redis), in two parts:
# - everything but the tests that measure real time (markers `slow`: starts worker processes,
#   and `serial`: paces a real budget window), in TEST_PROCESSES pytest-xdist processes
#   (worksteal: an idle one takes tests from a busy one), each with its own test database,
#   sandbox, live server, budget store and Redis database (tests/xdist_worker.py);
# - then those, in one process alone: a second process beside them on 2 cores made them late.
# TEST_PROCESSES=0 runs the first part in this process too (a debugger, -x, -s). A part that
# selects no test (PYTEST_ARGS naming one file) is not a failure; the make fails if either fails.
# The sandbox and the tests' hostile servers listen on 127.0.0.1: allowed as outbound hosts here
# (and so in the worker processes the tests start), as a deployment would allow its test shop.
TEST_PROCESSES ?= 2
TEST_ENV := SECRET_KEY=tests-only DEBUG=0 OUTBOUND_ALLOWED_HOSTS=127.0.0.1,localhost
XDIST := -n $(TEST_PROCESSES) --dist worksteal
PYTEST := $(TEST_ENV) $(BIN)/python -m pytest
TIMED := slow or serial
# pytest's exit status 5: no test selected.
PART_OK := code=$$?; [ $$code -eq 0 ] || [ $$code -eq 5 ] || failed=1
test: $(STAMP)
	@failed=0; \
	echo "== the suite but the timed tests, $(TEST_PROCESSES) processes"; \
	$(PYTEST) $(XDIST) -m "not ($(TIMED))" $(PYTEST_ARGS); $(PART_OK); \
	echo "== the timed tests ($(TIMED)), one process"; \
	$(PYTEST) -n 0 -m "$(TIMED)" $(PYTEST_ARGS); $(PART_OK); \
	exit $$failed

# The inner loop: the whole suite less the browser tests and the timed tests (worker
# processes, real budget windows), in the same processes; `make test` stays what CI runs.
test-quick: $(STAMP)
	$(PYTEST) $(XDIST) -m "not browser and not ($(TIMED))" $(PYTEST_ARGS)

# ruff (style, and PLC2701: no private names imported across modules), then the layers and
# the import-cycle contracts of pyproject.toml's [tool.importlinter] (lint-imports).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# The two commands of README.rst: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test test-postgres test-mariadb lint docs bench chaos clean

# The venv is rebuilt when the project's dependencies change.
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,redis,postgres]'
	touch $@

# Web server, scheduler and django-q2 workers together on the example project's SQLite database.
# Ctrl-C stops all three (the trap ends whatever is still running when the recipe's shell exits).
# The pids are kept by hand: in dash, $$(jobs -p) runs in a subshell that has no jobs, and a
# background command of a non-interactive shell ignores SIGINT, so runserver needs the SIGTERM.
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	@echo "Scheduler API: http://$(HOST):$(PORT)/scheduler/  (Ctrl-C stops everything)"
	@trap 'kill $$pids 2>/dev/null; wait' INT TERM EXIT; \
	$(PY) manage.py qcluster & pids="$$!"; \
	$(PY) manage.py run_scheduler & pids="$$pids $$!"; \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT) & pids="$$pids $$!"; \
	wait

# The whole suite on SQLite (tests needing PostgreSQL, Redis, Java or Chromium skip with a reason
# outside CI; with CI=true they run).
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# The same suite with PostgreSQL as the database.
test-postgres: $(VENV)/.installed
	SCHEDULER_TEST_DB=postgres $(PY) -m pytest $(PYTEST_ARGS)

# The documentation site, as CI and Read the Docs build it (every warning is an error).
docs: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[docs]'
	$(PY) -m sphinx -W -n -q -b html docs docs/_build/html

# The same suite with MariaDB as the database (127.0.0.1:3306, root); builds the mysqlclient driver,
# which needs pkg-config and MariaDB's client headers (Debian: libmariadb-dev).
test-mariadb: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[mariadb]'
	SCHEDULER_TEST_DB=mariadb $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The benchmarks of BENCHMARKS.md; the last three need PostgreSQL and Redis (about 6 minutes).
bench: $(VENV)/.installed
	$(PY) bench/bench_cron.py
	$(PY) bench/dispatch_throughput.py
	$(PY) bench/scale.py
	$(PY) bench/fire_lag.py

# The chaos suite (bench/chaos, BENCHMARKS.md "Reliability"): its own PostgreSQL cluster and Redis on
# spare ports, 2 schedulers and a qcluster, one fault per scenario, one table (about 10 minutes;
# CHAOS_ARGS=--quick for short versions). Each row says how its fault was verified; a scenario whose
# fault did not land fails, and so does the target. The network partition needs root (ip netns).
chaos: $(VENV)/.installed
	$(PY) -m bench.chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .test-db.sqlite3* *.egg-info

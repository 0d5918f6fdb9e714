# The two commands of README.rst: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test test-postgres test-mariadb coverage lint docs bench chaos mutate clean

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

# Tests run in parallel (pytest-xdist): most of the suite's time is spent waiting on the processes it
# starts, so more workers than cores pay. Each worker has its own test database and queue.
PYTEST_WORKERS ?= 4
PYTEST := $(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal
# Branch coverage (setup.cfg [coverage:*]) of the test processes and every process they start.
COVERAGE := --cov --cov-report=
# The floor CI holds: the branch coverage of the three runs combined (BENCHMARKS.md, Test suite).
COVERAGE_FLOOR ?= 96.5

# The whole suite on SQLite (tests needing PostgreSQL, Redis, Java or Chromium skip with a reason
# outside CI; with CI=true they run), then the coverage table.
test: $(VENV)/.installed
	$(PYTEST) $(COVERAGE) $(PYTEST_ARGS)
	$(PY) -m coverage report

# The suite with PostgreSQL as the database, less the tests that never use the suite's database
# (marker any_db: the cron engine, processes on databases of their own), which `make test` runs.
# Its coverage is added to the last `make test`'s.
test-postgres: $(VENV)/.installed
	SCHEDULER_TEST_DB=postgres $(PYTEST) $(COVERAGE) --cov-append -m "not any_db" $(PYTEST_ARGS)

# The documentation site, as CI and Read the Docs build it (every warning is an error).
docs: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[docs]'
	$(PY) -m sphinx -W -n -q -b html docs docs/_build/html

# The same with MariaDB (127.0.0.1:3306, root); builds the mysqlclient driver, which needs
# pkg-config and MariaDB's client headers (Debian: libmariadb-dev).
test-mariadb: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[mariadb]'
	SCHEDULER_TEST_DB=mariadb $(PYTEST) $(COVERAGE) --cov-append -m "not any_db" $(PYTEST_ARGS)

# The coverage of the runs so far (make test, then test-postgres and test-mariadb), per module, and
# whether it holds the floor.
coverage: $(VENV)/.installed
	$(PY) -m coverage report --fail-under=$(COVERAGE_FLOOR)

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

# Mutation testing of the pure scheduling code (BENCHMARKS.md "Mutation testing"): mutmut 3.8 changes
# planning.py, the cron search and its day rules one mutation at a time and runs the in-process unit
# tests that reach the changed function; a mutant no test fails survived. Its configuration is
# setup.cfg's [mutmut]:
# process_isolation = forkserver (each mutant's tests start from a process that has run no test, so
# lru_caches such as plan_due_job's cannot answer with unmutated results), manage.py copied into
# mutants/ (pytest-django puts the nearest manage.py's folder first on sys.path; without the copy the
# tests import the unmutated package and no mutant has a test), and `-m "not database and not quartz"`
# (the markers tests/conftest.py sets: no test database, no JVM). One module at a time, MUTATE_JOBS
# workers; prints each module's score, with tests/mutation_equivalents.txt's mutants set aside, and
# fails below MUTATE_MIN %. 8 to 14 minutes on 2 busy cores (planning 2, cron.search 5, cron.days 3+);
# MUTATE_MODULES=planning runs one module. cron.zones is left out: 54 % (its gaps: BENCHMARKS.md).
MUTATE_MODULES ?= planning cron.search cron.days
MUTATE_JOBS    ?= 2
MUTATE_MIN     ?= 90
mutate: $(VENV)/.installed
	$(PY) -m pip install --quiet 'mutmut>=3.8,<3.9'
	rm -rf mutants && mkdir mutants
	for module in $(MUTATE_MODULES); do \
	  echo "mutmut: django_scheduler_api.$$module"; \
	  $(VENV)/bin/mutmut run --max-children $(MUTATE_JOBS) "django_scheduler_api.$$module.*" \
	    >mutants/mutmut-$$module.log 2>&1 || { tail -n 40 mutants/mutmut-$$module.log; exit 1; }; \
	done
	$(VENV)/bin/mutmut results --all true \
	  | $(PY) tests/mutation_score.py --min $(MUTATE_MIN) $(addprefix django_scheduler_api.,$(MUTATE_MODULES))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .test-db.sqlite3* *.egg-info .coverage .coverage.* mutants

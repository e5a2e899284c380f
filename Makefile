# civicloop — the two commands a newcomer needs are `make demo` and `make test`.
# Each does its own setup: the venv and pinned packages, the Kafka jars (Maven, cached), and
# for tests Debian's clickhouse-server package. Re-running reuses all of them.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CODE   := civicloop schemas streams projections api tools

.PHONY: help check venv compiled compiled-and-lint system-deps clickhouse-server chromium wrk kafka-jars zookeeper-jars demo test test-unit lint bench clean

help:
	@echo "make demo   - reports through a real Kafka broker and Faust worker into ClickHouse (chDB)"
	@echo "make test   - the whole suite: unit tests and integration tests on real Kafka, chDB and a ClickHouse server"
	@echo "make check  - the inner loop's tier: lint, unit tests, component tests on chDB (no server, no process boundaries)"
	@echo "make lint   - ruff check, ruff format --check, mypy"
	@echo "make bench  - the benchmarks of docs/BENCHMARKS.md"

venv: $(STAMP) compiled

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "civicloop needs Python 3.11: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The per-event path compiled with mypyc into build/compiled (civicloop/compiled.py lists the
# modules; the sources stay as they are). Rebuilt when a source may have changed; a failed build
# leaves the pure Python running (`civicloop status` says which) and fails the equivalence test.
COMPILED_FROM := $(wildcard schemas/*.py projections/fold/*.py projections/tables/*.py) civicloop/compiled.py
compiled: build/compiled/manifest.json

build/compiled/manifest.json: $(STAMP) $(COMPILED_FROM)
	$(BIN)/python -c "from civicloop.compiled import build; build()" \
		|| echo "mypyc could not build the compiled modules: the pure Python runs (see above)"

system-deps:
	@command -v java >/dev/null || { echo "Java 17+ is missing: apt-get install openjdk-17-jre-headless"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is missing: apt-get install maven"; exit 1; }

clickhouse-server:
	@if [ -x /usr/sbin/clickhouse-server ] || command -v clickhouse-server >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's clickhouse-server package"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null) \
		|| { echo "apt-get could not install clickhouse-server"; exit 1; }; \
	else \
		echo "clickhouse-server is missing: run 'sudo apt-get install clickhouse-server' (Debian), then make test again"; exit 1; \
	fi

# The dashboard's and the console's browser tests drive Debian's Chromium through its
# ChromeDriver (selenium); no test tool downloads a browser of its own. fonts-noto-cjk: headless
# Chromium has no Chinese font of its own (the console's Chinese screenshots).
chromium:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null && dpkg -s fonts-noto-cjk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium, chromium-driver and fonts-noto-cjk (the console's Chinese) packages"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null) \
		|| { echo "apt-get could not install chromium chromium-driver fonts-noto-cjk"; exit 1; }; \
	else \
		echo "chromium or its Chinese font is missing: run 'sudo apt-get install chromium chromium-driver fonts-noto-cjk' (Debian), then make test again"; exit 1; \
	fi

# Debian's wrk: the HTTP load generator of `civicloop bench api` (and its test).
wrk:
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's wrk package"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
		|| { echo "apt-get could not install wrk"; exit 1; }; \
	else \
		echo "wrk is missing: run 'sudo apt-get install wrk' (Debian), then make again"; exit 1; \
	fi

kafka-jars: venv system-deps
	$(BIN)/python -c "from civicloop import config, log; from civicloop.tools.local.kafka_broker import jars; log.configure(); print('kafka jars:', jars(config.load()))"

# ZooKeeper for the local ClickHouse cluster (`civicloop clickhouse up --shards N --replicas M`).
zookeeper-jars: venv system-deps
	$(BIN)/python -c "from civicloop import config, log; from civicloop.tools.local.zookeeper import jars; log.configure(); print('zookeeper jars:', jars(config.load().cache))"

demo: venv system-deps
	$(BIN)/civicloop demo

# The suite runs in TEST_PROCESSES pytest-xdist processes, each with its own broker and servers,
# its own range of loopback ports, and whole groups of tests (tests/conftest.py: run_together):
# most tests wait on a worker, a broker or a browser, so two processes keep both cores busy.
TEST_PROCESSES ?= 2
PYTEST_PARALLEL = -n $(TEST_PROCESSES) --dist loadgroup

test: compiled-and-lint venv system-deps clickhouse-server chromium wrk kafka-jars zookeeper-jars
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

# The fast tier for the inner loop. `make test` (what CI runs) checks everything this does and more:
# the second backend, the cluster, kill -9 and restarts, the browser, the benchmarks' own tests.
check: compiled-and-lint venv system-deps
	CIVICLOOP_TEST_BACKENDS=chdb $(BIN)/python -m pytest $(PYTEST_PARALLEL) tests/unit tests/component -m "not server and not slow"

test-unit: venv
	$(BIN)/python -m pytest tests/unit

# The compiled build (mypyc, then the C compiler) and lint (mypy) each keep one core busy: side by
# side they take the longer one's time, not the sum (a failure of either fails the target).
compiled-and-lint: $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target compiled lint

lint: $(STAMP)
	$(BIN)/ruff check $(CODE) tests
	$(BIN)/ruff format --check $(CODE) tests
	@# mypy reads the installed package layout (civicloop.schemas = schemas/, …) from a link tree.
	@rm -rf build/typecheck && mkdir -p build/typecheck/civicloop
	@for f in civicloop/*; do ln -s "$(CURDIR)/$$f" build/typecheck/civicloop/; done
	@for d in schemas streams projections api tools; do ln -s "$(CURDIR)/$$d" build/typecheck/civicloop/$$d; done
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p civicloop

bench: venv system-deps wrk
	$(BIN)/civicloop bench codec
	$(BIN)/civicloop kafka up
	@# every Kafka benchmark runs even when one fails; the broker goes down; any failure fails make
	status=0; for b in "produce" "replay" "live" "replay -n 10000000" "api"; do \
		$(BIN)/civicloop bench $$b || status=1; done; \
		$(BIN)/civicloop kafka down; exit $$status
	$(BIN)/civicloop bench queries
	$(BIN)/civicloop bench queries --cases 10000000
	$(BIN)/civicloop bench chaos

clean:
	rm -rf var .pytest_cache .hypothesis

# duckpipe: `make demo` and `make test` work on a fresh machine with Python 3.11+ and PyPI.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DUCKPIPE := $(VENV)/bin/duckpipe
DEMO := demo
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test bench bench-profile-ingest clean venv lint

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench,dask]'
	touch $(STAMP)

## synth -> ingest -> run -> report on the project's own synthetic sample
demo: $(STAMP)
	rm -rf $(DEMO)
	$(DUCKPIPE) synth $(DEMO)/data/raw --securities 4 --days 5 --orders-per-unit 2000 --seed 7
	$(DUCKPIPE) ingest --workspace $(DEMO)
	$(DUCKPIPE) units --workspace $(DEMO) --units 1-5
	$(DUCKPIPE) run --workspace $(DEMO) --memory-limit 2GB --threads 2
	$(DUCKPIPE) report --workspace $(DEMO)
	@echo "demo report: $(abspath $(DEMO))/reports/report.html"

test: $(STAMP)
	$(VENV)/bin/ruff check duckpipe tests bench
	$(PY) -m pytest -q -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run_all.py

## where ingest's seconds go, stage by stage, against Polars (not part of bench: writes 2 GB)
bench-profile-ingest: $(STAMP)
	test -d bench/out/profile/raw || $(DUCKPIPE) synth bench/out/profile/raw --securities 20 --days 9 --orders-per-unit 8000 --seed 3 -q
	$(PY) bench/profile_ingest.py bench/out/profile/raw

clean:
	rm -rf $(DEMO) bench/out .pytest_cache

lint: $(STAMP)
	$(VENV)/bin/ruff check duckpipe tests bench

# duckpipe: `make demo` and `make test` work on a fresh machine with Python 3.11+ and PyPI.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DUCKPIPE := $(VENV)/bin/duckpipe
DEMO := demo
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test bench bench-scale bench-dask bench-profile-ingest clean venv lint

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

## linear and bounded: the same pipeline at ~2 GB and ~20 GB (not part of bench: writes ~26 GB, ~1 hour)
bench-scale: $(STAMP)
	$(PY) bench/bench_scale.py --sizes 20x9,40x45 --memory-limit 1GB --threads 2 --by-unit

## Dask: ingest and run on a LocalCluster of 1 vs 2 workers (BENCHMARKS.md, issue 10)
bench-dask: $(STAMP)
	test -d bench/out/dask/raw || $(DUCKPIPE) synth bench/out/dask/raw --securities 10 --days 10 --orders-per-unit 8000 --seed 3 -q
	$(PY) bench/bench_dask_workers.py bench/out/dask/raw bench/out/dask/work --rounds 2 --memory-limit 3GB --local

## where ingest's seconds go, stage by stage, against Polars (not part of bench: writes 2 GB)
bench-profile-ingest: $(STAMP)
	test -d bench/out/profile/raw || $(DUCKPIPE) synth bench/out/profile/raw --securities 20 --days 9 --orders-per-unit 8000 --seed 3 -q
	$(PY) bench/profile_ingest.py bench/out/profile/raw

clean:
	rm -rf $(DEMO) bench/out .pytest_cache

lint: $(STAMP)
	$(VENV)/bin/ruff check duckpipe tests bench

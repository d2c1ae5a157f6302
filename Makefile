# Set-up and entry points. Every target creates .venv on first use: nothing is installed by hand.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-test

.PHONY: demo test lint bench clean playground

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,mpi]'
	touch $@

## demo: the main job: train an MLP on the bundled digits with fit, report test metrics, write plots
demo: $(STAMP)
	$(VENV)/bin/chainrule train --run-dir runs/demo
	$(PY) examples/graph_picture.py --out runs/demo
	$(PY) examples/moons_spirals.py --quick --out runs/demo
	$(VENV)/bin/chainrule compare --data digits --quiet --plot runs/demo/compare.png

## test: ruff, then the whole test suite
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

## playground: the browser playground on http://127.0.0.1:8765/ (Ctrl-C stops it)
playground: $(STAMP)
	$(VENV)/bin/chainrule playground

## bench: chainrule against PyTorch (CPU) on the same workloads; writes benchmarks/RESULTS.md
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/bench.py

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

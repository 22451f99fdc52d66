# Quickstart targets: `make demo` renders the demo patch, `make test` runs the tests.
# Both create a virtual environment in .venv on first use; `make demo` installs only what a
# render needs, `make test` adds the test tools and the extras the tests exercise (Ray).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch is pinned to the CPU build where one is provided locally (CI); see README.
TORCH  ?= torch==2.13.0
# test workers: one per core (pytest-xdist), each with one torch thread (tests/conftest.py);
# a worker that crashes ends the run (a replaced worker left --dist loadgroup waiting for ever)
JOBS   ?= auto

.PHONY: setup setup-test demo test check lint bench edit clean

setup: $(VENV)/.afx-base

$(VENV)/.afx-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e .
	touch $@

setup-test: $(VENV)/.afx-test

$(VENV)/.afx-test: $(VENV)/.afx-base
	$(BIN)/pip install --quiet -e ".[test,cluster]"
	touch $@

demo: setup
	$(BIN)/afx run graphs/demo.yaml -o out/demo.mp4 --force

# everything, as CI runs it (the import contract included: tests/test_layers.py)
test: setup-test
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --max-worker-restart=0 tests

# the quick tier for the inner loop: no window, no renders of whole examples (well under a minute)
check: setup-test
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --max-worker-restart=0 -q -m "not slow" tests

# the import contract alone (pyproject.toml, [tool.importlinter])
lint: setup-test
	$(BIN)/python -m pytest -q tests/test_layers.py

bench: setup
	$(BIN)/afx bench

edit: setup
	$(BIN)/afx edit graphs/demo.yaml

clean:
	rm -rf out .pytest_cache

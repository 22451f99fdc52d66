# Quickstart targets: `make demo` renders the demo patch, `make test` runs the tests.
# Both create a virtual environment in .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch is pinned to the CPU build where one is provided locally (CI); see README.
TORCH  ?= torch==2.13.0

.PHONY: setup demo test bench edit clean

setup: $(VENV)/.afx-installed

$(VENV)/.afx-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test,cluster]"
	touch $@

demo: setup
	$(BIN)/afx run graphs/demo.yaml -o out/demo.mp4 --force

test: setup
	$(BIN)/python -m pytest tests

bench: setup
	$(BIN)/afx bench

edit: setup
	$(BIN)/afx edit graphs/demo.yaml

clean:
	rm -rf out .pytest_cache

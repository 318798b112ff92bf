# `make reproduce` runs every implemented problem of both editions into reports/;
# `make test` runs the test suite. Both create .venv and install requirements.txt when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Offline machines point this at a folder holding mnist/ and covid/ (shared/data here).
export PS4_DATA_DIR ?= $(if $(wildcard ../shared/data/mnist),$(abspath ../shared/data),)

.PHONY: reproduce test lint list

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

reproduce: $(VENV)/.installed
	$(PY) main.py --edition 2018 --problem all
	$(PY) main.py --edition 2023 --problem all

# The whole suite on the default backend (JAX), then the tests marked `backends` on TensorFlow: one
# end-to-end training per problem family, a search, resume and the same-seed checks.
test: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q tests
	KERAS_BACKEND=tensorflow $(PY) -m pytest -q -m backends tests

list: $(VENV)/.installed
	$(PY) main.py --list
	$(PY) main.py --list --edition 2023

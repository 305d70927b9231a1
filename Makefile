# The two commands of the README:
#   make repro   create the environment if missing, then run the whole pipeline (dvc repro)
#   make test    create the environment if missing, then run the test suite
# and helpers:
#   make dvc ARGS="exp show --only-changed"   any dvc command inside the environment
#   make seeds   the seed study: the whole pipeline with seeds [0, 1, 2] as a DVC experiment
# The environment is .venv, rebuilt whenever pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# dvc.yaml's commands run `python -m pipeline.<stage>`: that python must be the venv's.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: repro test test-fast dvc seeds

repro: $(STAMP)
	$(VENV)/bin/dvc repro

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not slow"

dvc: $(STAMP)
	$(VENV)/bin/dvc $(ARGS)

seeds: $(STAMP)
	$(VENV)/bin/dvc exp run -S 'seeds=[0,1,2]'

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e .
	touch $(STAMP)

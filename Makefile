# Two commands for a new user: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean

# Where torch comes from. Empty: pip's own configuration (on this project's machines a
# local CPU build). PyPI's Linux wheel is the CUDA one (several GB of nvidia packages);
# elsewhere use `make TORCH_INDEX=https://download.pytorch.org/whl/cpu`.
TORCH_INDEX ?=

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	# torch first and pinned: otherwise sentence-transformers pulls the newest torch, with
	# CUDA packages, whatever index it comes from.
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/videocache serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/passthrough.py

clean:
	rm -rf $(VENV) .pytest_cache

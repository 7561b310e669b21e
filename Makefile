# Fresh-machine entry points (see README):
#   make demo   — create .venv, install xrdsim, run the main job on the bundled data
#   make test   — create .venv, install xrdsim with test extras, run lint + tests
#   make bench  — install the benchmark peers, run benchmarks/run_all.py (<= 15 min)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel of torch; pinned here (not in the package metadata) so CI never pulls a CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: venv install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_PIN)"
	$(BIN)/pip install -q -e ".[training,dev]"

demo: install
	$(BIN)/xrdsim build -o out/default.zarr --overwrite
	$(BIN)/xrdsim inspect out/default.zarr

lint: install
	$(BIN)/ruff check xrdsim training cli tests benchmarks

test: install lint
	$(BIN)/python -m pytest -n 2 -q tests

bench: install
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf out .pytest_cache .ruff_cache

# Fresh-machine entry points (see README):
#   make demo   — create .venv, install xrdsim, run the main job on the bundled data
#   make test   — create .venv, install xrdsim with test extras, run lint + tests
#   make bench  — install the benchmark peers, run benchmarks/speed/run_all.py (<= 15 min)
#                 and benchmarks/speed/bench_training.py (training throughput)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch, pinned here (not in the package metadata) so CI and `make test`
# never pull a CUDA build. On Linux, PyPI's plain torch==2.13.0 wheel is the CUDA one (with
# ~3 GB of nvidia-* packages); the CPU wheel carries the local version "+cpu" and lives on
# PyTorch's CPU index. `install` first asks the configured indexes alone (a local wheel
# cache or mirror that holds the +cpu wheel; PyPI answers "no matching distribution" at
# once), then adds TORCH_CPU_INDEX. macOS wheels on PyPI are CPU builds without "+cpu".
# With a GPU: `make install TORCH_PIN=torch==2.13.0` (CUDA wheel from PyPI), see README.
UNAME_S := $(shell uname -s)
ifeq ($(UNAME_S),Darwin)
TORCH_PIN ?= torch==2.13.0
else
TORCH_PIN ?= torch==2.13.0+cpu
endif
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: venv install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH_PIN)" 2>/dev/null || \
		$(BIN)/pip install -q "$(TORCH_PIN)" --extra-index-url "$(TORCH_CPU_INDEX)"
	# tables (xraydb) and bench (the peer simulators) too: tests compare against them
	$(BIN)/pip install -q -e ".[training,dev,tables,bench]"

demo: install
	$(BIN)/xrdsim build -o out/default.zarr --overwrite
	$(BIN)/xrdsim inspect out/default.zarr

lint: install
	$(BIN)/ruff check xrdsim training cli tests benchmarks

test: install lint
	$(BIN)/python -m pytest -n 2 -q tests

bench: install
	$(BIN)/python benchmarks/speed/run_all.py
	$(BIN)/python benchmarks/speed/bench_training.py

clean:
	rm -rf out .pytest_cache .ruff_cache

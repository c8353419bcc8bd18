# ecovalue — `make demo` builds the Wuhan demo and runs the full GEP account;
# `make test` runs lint, type checks and every test. Both set up .venv first, from the lock
# file: a fresh machine installs exactly the versions that were tested.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
STAMP := $(VENV)/.installed-stamp
# numba's compiled kernels, warmed at set-up: again whenever a module with kernels changes
WARM := $(VENV)/.warm-stamp
KERNELS := $(wildcard src/ecovalue/models/*.py src/ecovalue/raster/*.py)
DEMO_RES ?= 200
DEMO_OUT ?= demo-out
# numpy's SIMD dispatch targets this CPU has (AVX2, AVX-512, …): the portable run turns them off
NPY_SIMD = $(shell $(BIN)/python -c "import numpy._core._multiarray_umath as m; print(' '.join(t for t in m.__cpu_dispatch__ if m.__cpu_features__.get(t)))")

.PHONY: setup warm-up lock demo test lint typecheck pytest test-numeric-portable bench-setup bench first-run-bench clean

$(STAMP): $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "Installing the locked dependencies ($(LOCK), hashes checked) into $(VENV):"
	$(BIN)/python -m pip install --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# compile the numeric kernels once here, not in the first account (ecovalue warm-up; ≈ 1 min)
$(WARM): $(STAMP) $(KERNELS)
	@echo "Compiling the numeric kernels into numba's cache (once per version and machine):"
	$(BIN)/ecovalue warm-up
	@touch $(WARM)

setup: $(STAMP) $(WARM)

warm-up: $(STAMP)
	$(BIN)/ecovalue warm-up
	@touch $(WARM)

# refresh the lock after changing pyproject.toml's dependencies (then `make setup`)
lock:
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 -o $(LOCK)

demo: setup
	$(BIN)/ecovalue demo-data $(DEMO_OUT)/wuhan --resolution $(DEMO_RES) --force
	$(BIN)/ecovalue account $(DEMO_OUT)/wuhan --out $(DEMO_OUT)/run
	@echo
	@echo "Open $(DEMO_OUT)/run/report.html (maps, charts, parameters) and $(DEMO_OUT)/run/results.xlsx (核算表)."

lint: setup
	$(BIN)/ruff check src tests bench

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q -n 2 --dist loadfile

# the numeric tests once more with numpy's SIMD paths off, so that a test which holds only on
# this CPU's exp/log/pow fails here too (docs/scaling.md, "What holds on every machine")
test-numeric-portable: setup
	@echo "numeric tests with NPY_DISABLE_CPU_FEATURES=\"$(NPY_SIMD)\""
	NPY_DISABLE_CPU_FEATURES="$(NPY_SIMD)" $(BIN)/pytest -q -n 2 --dist loadfile \
		--ignore=tests/platform -p no:cacheprovider

test: lint typecheck pytest test-numeric-portable

bench-setup:
	bash bench/setup_invest.sh

bench: setup
	$(BIN)/python bench/run.py --size 1000

# make demo's account: first run and rerun, without and with the set-up's warm-up (docs/benchmarks.md)
first-run-bench: setup
	$(BIN)/python bench/first_run.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache

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
DEMO_PORT ?= 8000
# numpy's SIMD dispatch targets this CPU has (AVX2, AVX-512, …): the portable run turns them off
NPY_SIMD = $(shell $(BIN)/python -c "import numpy._core._multiarray_umath as m; print(' '.join(t for t in m.__cpu_dispatch__ if m.__cpu_features__.get(t)))")

WEB := web/frontend
WEB_DIST := src/ecovalue/web/static/dist
WEB_STAMP := $(WEB_DIST)/meta.json
WEB_SOURCES := $(WEB)/package-lock.json $(WEB)/build.mjs $(wildcard $(WEB)/src/*)

.PHONY: setup warm-up lock demo demo-data web-assets test lint typecheck pytest test-numeric-portable bench-setup bench bench-web first-run-bench clean

$(STAMP): $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "Installing the locked dependencies ($(LOCK), hashes checked) into $(VENV):"
	$(BIN)/python -m pip install --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# the web platform's scripts and styles (MapLibre GL JS, ECharts, terra-draw from npm, pinned
# in package-lock.json), bundled by esbuild into the package; served by the app, no CDN
$(WEB_STAMP): $(WEB_SOURCES)
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 18+ (apt-get install nodejs npm) to build the web assets"; exit 1; }
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build

web-assets: $(WEB_STAMP)

# compile the numeric kernels once here, not in the first account (ecovalue warm-up; ≈ 1 min)
$(WARM): $(STAMP) $(KERNELS)
	@echo "Compiling the numeric kernels into numba's cache (once per version and machine):"
	$(BIN)/ecovalue warm-up
	@touch $(WARM)

setup: $(STAMP) $(WARM) $(WEB_STAMP)

warm-up: $(STAMP)
	$(BIN)/ecovalue warm-up
	@touch $(WARM)

# refresh the lock after changing pyproject.toml's dependencies (then `make setup`)
lock:
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 -o $(LOCK)

# the demo city as a working platform: two accounted years, users of every role, register,
# monitoring, reports, both runs published; then the site is served (Ctrl-C stops it)
demo: setup
	$(BIN)/ecovalue demo-platform $(DEMO_OUT) --resolution $(DEMO_RES) --serve --port $(DEMO_PORT)

# the same without serving (for scripts); serve it later with
# ECOVALUE_ENV=development ECOVALUE_DATABASE_URL=sqlite:///$(DEMO_OUT)/platform.db ecovalue serve
demo-data: setup
	$(BIN)/ecovalue demo-platform $(DEMO_OUT) --resolution $(DEMO_RES) --no-serve

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

# the web platform's targets (tiles, page times, plot, concurrent readers): bench/web.py
bench-web: setup
	$(BIN)/python bench/web.py

# make demo's account: first run and rerun, without and with the set-up's warm-up (docs/benchmarks.md)
first-run-bench: setup
	$(BIN)/python bench/first_run.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache

# ecovalue — `make demo` builds the Wuhan demo and runs the full GEP account;
# `make test` runs lint, type checks and every test. Both set up .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_RES ?= 200
DEMO_OUT ?= demo-out

.PHONY: setup demo test lint typecheck pytest bench-setup bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

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

test: lint typecheck pytest

bench-setup:
	bash bench/setup_invest.sh

bench: setup
	$(BIN)/python bench/run.py --size 1000

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache

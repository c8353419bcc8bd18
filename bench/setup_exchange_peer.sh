#!/usr/bin/env bash
# Install the exchange benchmark's reference engine, PyPI order-matching 0.12.0 (khrapovs/
# OrderBookMatchingEngine, in-memory price-time matching, with its polars extra it imports),
# into its own environment bench/.exchange-peer-venv, so it never enters ecovalue's.
# Idempotent: a second run only checks and exits.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.exchange-peer-venv"
python="${PYTHON:-python3}"
if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import order_matching.matching_engine' 2>/dev/null; then
    echo "[bench-setup] order-matching already installed in $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "order-matching[polars]==0.12.0"
"$venv/bin/python" -c 'import order_matching.matching_engine; print("[bench-setup] order-matching ready")'

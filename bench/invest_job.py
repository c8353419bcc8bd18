"""One measured InVEST model run for bench/run.py, executed by bench/.invest-venv/bin/python.

Usage: ``python bench/invest_job.py MODEL INPUTS WORKSPACE OUT.json [--routing mfd]
[--l-max 122] [--threshold 1000]`` with MODEL one of ``carbon``, ``sdr``, ``awy``, ``ndr``.
INPUTS is a folder written by bench/gen_inputs.py. The workspace must be empty (run.py
deletes it first) so taskgraph does not skip work it finds done. Models run with
``n_workers = -1`` (taskgraph in the calling process) so the process's peak RSS is the model's.

Only the standard library and natcap.invest are imported here: this file runs in InVEST's own
environment, never in the project's .venv.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

MODULES = {
    "carbon": "natcap.invest.carbon",
    "sdr": "natcap.invest.sdr.sdr",
    "awy": "natcap.invest.annual_water_yield",
    "ndr": "natcap.invest.ndr.ndr",
}


def _input_ids(module: Any) -> set[str]:
    spec = module.MODEL_SPEC
    if isinstance(spec, dict):  # InVEST < 3.15
        return set(spec.get("args", {}))
    return {inp.id for inp in spec.inputs}


def build_args(
    model: str, module: Any, inputs: Path, workspace: Path, opts: argparse.Namespace
) -> dict[str, Any]:
    r = inputs / "rasters"
    t = inputs / "tables"
    ids = _input_ids(module)
    common = {"workspace_dir": str(workspace), "results_suffix": "", "n_workers": -1}
    if model == "carbon":
        lulc_key = "lulc_bas_path" if "lulc_bas_path" in ids else "lulc_cur_path"
        return {
            **common,
            lulc_key: str(r / "landcover.tif"),
            "calc_sequestration": False,
            "carbon_pools_path": str(t / "carbon_pools.csv"),
            "do_valuation": False,
        }
    flow = {"flow_dir_algorithm": opts.routing}
    if model == "sdr":
        return {
            **common,
            **flow,
            "dem_path": str(r / "dem.tif"),
            "erosivity_path": str(r / "erosivity.tif"),
            "erodibility_path": str(r / "erodibility.tif"),
            "lulc_path": str(r / "landcover.tif"),
            "watersheds_path": str(inputs / "vectors" / "watersheds.shp"),
            "biophysical_table_path": str(t / "sdr_biophysical.csv"),
            "threshold_flow_accumulation": opts.threshold,
            "k_param": 2.0,
            "sdr_max": 0.8,
            "ic_0_param": 0.5,
            "l_max": opts.l_max,
            "drainage_path": "",
        }
    if model == "awy":
        return {
            **common,
            "precipitation_path": str(r / "precipitation.tif"),
            "eto_path": str(r / "et0.tif"),
            "depth_to_root_rest_layer_path": str(r / "root_depth.tif"),
            "pawc_path": str(r / "pawc.tif"),
            "lulc_path": str(r / "landcover.tif"),
            "watersheds_path": str(inputs / "vectors" / "watersheds.shp"),
            "sub_watersheds_path": "",
            "biophysical_table_path": str(t / "awy_biophysical.csv"),
            "seasonality_constant": 5.0,
            "demand_table_path": "",
            "valuation_table_path": "",
        }
    if model == "ndr":
        return {
            **common,
            **flow,
            "dem_path": str(r / "dem.tif"),
            "lulc_path": str(r / "landcover.tif"),
            "runoff_proxy_path": str(r / "precipitation.tif"),
            "watersheds_path": str(inputs / "vectors" / "watersheds.shp"),
            "biophysical_table_path": str(t / "ndr_biophysical.csv"),
            "calc_p": False,
            "calc_n": True,
            "threshold_flow_accumulation": opts.threshold,
            "k_param": 2.0,
            "subsurface_critical_length_n": 150.0,
            "subsurface_eff_n": 0.5,
        }
    raise ValueError(f"unknown model {model!r}; expected one of {sorted(MODULES)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=sorted(MODULES))
    ap.add_argument("inputs", type=Path)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--routing", choices=("mfd", "d8"), default="mfd")
    ap.add_argument("--l-max", type=float, default=122.0)
    ap.add_argument("--threshold", type=int, default=1000)
    opts = ap.parse_args(argv)
    t0 = time.perf_counter()
    import logging

    logging.basicConfig(level=logging.WARNING)
    module = importlib.import_module(MODULES[opts.model])
    t_import = time.perf_counter() - t0
    args = build_args(opts.model, module, opts.inputs, opts.workspace, opts)
    t1 = time.perf_counter()
    module.execute(args)
    t_run = time.perf_counter() - t1
    import natcap.invest

    opts.out.write_text(
        json.dumps(
            {
                "timings": {"import": t_import, "execute": t_run},
                "inner_seconds": time.perf_counter() - t0,
                "invest_version": natcap.invest.__version__,
                "args": {k: str(v) for k, v in args.items()},
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every output a user reads spells units one way (``ecovalue.units.format_unit``), never pint's.

One demo run at 3 km goes through every command that writes for people — ``account`` (both
engines), ``plot``, ``scenario``, ``uncertainty``, ``series``, ``seea`` and ``profiles`` — and
the test reads back all they print and write: the console, every CSV, JSON, HTML and XLSX
cell, and the GeoTIFF tags. It fails on any raw pint spelling (``m**3``, ``kW*h``,
``CNY/t``, ``visit``, ``metric_ton`` …), and on a unit column whose cell is not already
in the users' spelling (``format_unit(cell) != cell``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecovalue.cli.main import app
from ecovalue.units import format_unit

RES = 3000  # metres: 13 districts, every indicator, a few seconds per command
runner = CliRunner()

# pint's syntax and names, as opposed to what people write (m³, kW·h, 元/t, 人次, t, hm²)
RAW = re.compile(
    r"\*\*"  # m**3
    r"|(?<![\w*])(?:kW|W|t|m|ha|h|a|d|mm|MJ|kg|g|CNY|yuan|visit)\*(?=[\w(])"  # kW*h, t*ha
    r"|\bCNY\s*/|/\s*\(?\s*CNY\b|\bCNY\b(?=\s*$)"  # CNY/t, t/CNY, a cell 'CNY'
    r"|/\s*visit\b|^\s*visit\s*$"  # CNY/visit, a unit cell 'visit' (English 'per visit' is prose)
    r"|\b(?:metric_ton|hectare|wan_yuan|yi_yuan|wan_m3|kilowatt_hour|meter\s\*\*)\b"
)
UNIT_FIELDS = re.compile(r"(^|_)unit$|^单位$|^实物量单位$|单位 Unit")


def _offences(where: str, text: str) -> list[str]:
    out = []
    for n, line in enumerate(str(text).splitlines(), start=1):
        m = RAW.search(line)
        if m:
            out.append(f"{where}:{n}: {m.group(0)!r} in {line.strip()[:160]!r}")
    return out


def _unit_cell(where: str, value: object) -> list[str]:
    text = "" if value is None else str(value)
    if re.search(r"\bCNY\b|\bvisit\b|\byuan\b", text):  # 'CNY (current prices)' is no unit label either
        return [f"{where}: unit {text!r} spells money or visits the pint way"]
    if text in ("", "nan") or format_unit(text) == text:
        return []
    return [f"{where}: unit {text!r} is not how users read it ({format_unit(text)!r})"]


def _json_offences(where: str, obj: object, key: str = "") -> list[str]:
    if isinstance(obj, dict):
        return [o for k, v in obj.items() for o in _json_offences(f"{where}.{k}", v, str(k))]
    if isinstance(obj, list):
        return [o for i, v in enumerate(obj) for o in _json_offences(f"{where}[{i}]", v, key)]
    found = _offences(where, str(obj)) if isinstance(obj, str) else []
    return found + (_unit_cell(where, obj) if UNIT_FIELDS.search(key) else [])


def _csv_offences(path: Path) -> list[str]:
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    found = [o for c in df.columns for o in _offences(f"{path.name} header", c)]
    for col in df.columns:
        for i, v in enumerate(df[col]):
            found += _offences(f"{path.name} row {i + 2} {col}", v)
            if UNIT_FIELDS.search(col):
                found += _unit_cell(f"{path.name} row {i + 2} {col}", v)
    return found


def _xlsx_offences(path: Path) -> list[str]:
    from openpyxl import load_workbook

    found = []
    for ws in load_workbook(path, read_only=True).worksheets:
        unit_cols: set[int] = set()
        for r, row in enumerate(ws.iter_rows(values_only=True), start=1):
            for c, v in enumerate(row):
                if v is None:
                    continue
                where = f"{path.name}[{ws.title}] R{r}C{c + 1}"
                if isinstance(v, str):
                    found += _offences(where, v)
                    if UNIT_FIELDS.search(v.strip()):
                        unit_cols.add(c)
                    elif c in unit_cols:
                        found += _unit_cell(where, v)
    return found


def _html_offences(path: Path) -> list[str]:
    text = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "", path.read_text(encoding="utf-8"))
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", text, flags=re.S)
    return _offences(path.name, re.sub(r"<[^>]+>", "\n", text))


def _tif_offences(path: Path) -> list[str]:
    import rasterio

    with rasterio.open(path) as src:
        tags = src.tags()
    return [o for k, v in tags.items() for o in _offences(f"{path.name} tag {k}", v)]


def offences_in(folder: Path) -> list[str]:
    found: list[str] = []
    readers = {".csv": _csv_offences, ".xlsx": _xlsx_offences, ".html": _html_offences,
               ".tif": _tif_offences}  # fmt: skip
    for p in sorted(folder.rglob("*")):
        if p.suffix == ".json":
            found += _json_offences(p.name, json.loads(p.read_text(encoding="utf-8")))
        elif p.suffix in readers:
            found += readers[p.suffix](p)
    return found


def _invoke(args: list[str]) -> str:
    res = runner.invoke(app, args, env={"COLUMNS": "250"})
    assert res.exit_code == 0, f"{args}: {res.output}"
    return res.output


@pytest.fixture(scope="module")
def demo_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path | None]]:
    """command → (what it printed, the folder it wrote)."""
    import numpy as np
    import rasterio
    from shapely.geometry import box, mapping

    from ecovalue.datasets.demo import build_demo

    base = tmp_path_factory.mktemp("outputs")
    d23 = build_demo(base / "wuhan2023", resolution=RES, seed=0, year=2023)
    d22 = build_demo(base / "wuhan2022", resolution=RES, seed=0, year=2022)
    with rasterio.open(d23 / "rasters" / "landcover.tif") as src:  # a plot on paddy fields
        rows, cols = np.nonzero(src.read(1) == 11)
        x, y = src.xy(rows[len(rows) // 2], cols[len(cols) // 2])
    square = box(x - 4000, y - 4000, x + 4000, y + 4000)
    site = base / "site.geojson"
    site.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(square)}))
    scen = base / "scenario.toml"
    scen.write_text('[scenario]\nname = "new town"\n[[conversion]]\nfrom = [11, 12, 21, 31]\nto = 51\n',
                    encoding="utf-8")  # fmt: skip
    plot = ["--plot", str(site), "--plot-crs", "EPSG:4547"]
    runs: dict[str, list[str]] = {
        "account": ["account", str(d23), "--out", str(base / "account")],
        "streamed": ["account", str(d23), "--engine", "streamed", "--out", str(base / "streamed")],
        "plot": ["plot", str(d23), *plot, "--out", str(base / "plot")],
        "scenario": ["scenario", str(d23), *plot, "--scenario", str(scen), "--out", str(base / "scenario")],
        "uncertainty": ["uncertainty", str(d23), "--draws", "8", "--out", str(base / "uncertainty")],
        "series": ["series", str(d22), str(d23), "--out", str(base / "series")],
        "seea": ["seea", str(d22), str(d23), "--out", str(base / "seea")],
        "profiles": ["profiles", "cn-2022"],
    }  # fmt: skip
    out = {}
    for name, args in runs.items():
        folder = Path(args[args.index("--out") + 1]) if "--out" in args else None
        out[name] = (_invoke(args), folder)
    return out


COMMANDS = ["account", "streamed", "plot", "scenario", "uncertainty", "series", "seea", "profiles"]


@pytest.mark.parametrize("command", COMMANDS)
def test_no_raw_pint_spelling_reaches_a_user(demo_outputs, command: str) -> None:
    printed, folder = demo_outputs[command]
    found = _offences(f"{command} console", printed)
    if folder is not None:
        assert any(folder.rglob("*")), f"{command} wrote nothing"
        found += offences_in(folder)
    assert not found, "\n".join(found[:40])


def test_the_walker_sees_each_kind_of_raw_spelling(tmp_path: Path) -> None:
    # the check itself: each raw spelling the issue names is caught, what people write is not
    for raw in ("m**3", "kW*h", "CNY/t", "t/CNY", "CNY", "visit", "CNY/visit", "t*ha", "metric_ton"):
        assert RAW.search(raw), raw
    for fine in ("m³", "kW·h", "元/t", "人次", "元/(kW·h)", "t/(hm²·a)", "100 million yuan", "GEP*"):
        assert not RAW.search(fine), fine
    (tmp_path / "x.csv").write_text("indicator,physical_unit\nwater,m³\npower,kW*h\n", encoding="utf-8")
    assert len(offences_in(tmp_path)) == 2  # one raw spelling, one unit cell not as users read it

"""README.md's result table is the one ``make demo``'s account prints (bench/readme_table.py)."""

from __future__ import annotations

import importlib.util
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from tests.tiny import write_tiny_dataset
from typer.testing import CliRunner

from ecovalue.accounting.pipeline import run_account
from ecovalue.cli.main import app
from ecovalue.reports.totals import totals_markdown, totals_rows

ROOT = Path(__file__).resolve().parents[1]


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("readme_table", ROOT / "bench" / "readme_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_table"] = module
    spec.loader.exec_module(module)
    return module


def test_make_demo_resolution_is_the_scripts() -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^DEMO_RES \?= (\S+)$", make, flags=re.M).group(1) == f"{_script().RESOLUTION:g}"


def test_the_readme_table_is_the_demo_runs(tmp_path: Path) -> None:
    # the real thing: the demo at make demo's 200 m, its account, the table it prints
    script = _script()
    committed = script.readme_block((ROOT / "README.md").read_text(encoding="utf-8"))
    fresh = script.demo_table(workdir=tmp_path)
    assert committed == fresh, (
        "README.md's table is not what `make demo` prints; run `.venv/bin/python "
        f"bench/readme_table.py` and commit README.md. Fresh table:\n{fresh}"
    )


def tiny_run_path(base: Path) -> Path:
    return write_tiny_dataset(base / "d")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return run_account(tiny_run_path(tmp_path_factory.mktemp("tiny")), "cn-2022")


def test_the_table_is_what_account_prints(tiny_run, tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["account", str(tiny_run_path(tmp_path)), "--out", str(tmp_path / "r"),
                                   "--no-reports"]).output  # fmt: skip
    rows = totals_rows(tiny_run)
    for r in rows[:-1]:  # the command prints these very cells
        assert re.search(rf"{r.name_zh} {r.name_en}\s*│\s*" + r"\s*│\s*".join(map(re.escape, r.cells)), out), out
    total = rows[-1]
    assert total.total and [r.name_zh for r in rows[:-1]] == [r.name_zh for r in tiny_run.regions]
    # each cell is the exact sum in 亿元 with two decimals; the GEP column is the exact GEP
    gep = tiny_run.totals()["gep_current"]
    assert total.gep_yuan == gep and total.cells[-1] == f"{gep / Decimal(10**8):,.2f}"
    md = totals_markdown(tiny_run, top=1)
    lines = md.splitlines()
    assert lines[0].startswith("| 2023 (synthetic demo), 亿元 | 物质供给 Provisioning")
    assert len(lines) == 5 and lines[3] == "| … 1 more districts | | | | |"
    assert lines[-1] == "| **合计 Total** | " + " | ".join(f"**{c}**" for c in total.cells) + " |"


def test_the_script_writes_the_block_and_check_sees_a_difference(tmp_path: Path) -> None:
    script = _script()
    text = f"intro\n{script.BEGIN}\n| old |\n{script.END}\nrest\n"
    new = script.with_table(text, "| new |\n")
    assert new == f"intro\n{script.BEGIN}\n| new |\n{script.END}\nrest\n"
    assert script.readme_block(new) == "| new |\n"
    with pytest.raises(ValueError, match="no <!-- demo-table"):
        script.readme_block("no markers here")

"""Warnings that stop the eye: at the top of the run's output, in summary.json and in the
report, the same from both engines and from ``ecovalue validate``.

The case is issue 22's: precipitation per month declared as mm/a. Water conservation
becomes 0 everywhere; before, the only trace was one note among many.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.malformed import scale_raster
from typer.testing import CliRunner

from ecovalue.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def monthly(demo_2km: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monthly") / "d"
    shutil.copytree(demo_2km, root)
    scale_raster("precipitation", 1 / 12)(root)
    return root


def _what(summary: Path) -> list[str]:
    return [w["what"] for w in json.loads(summary.read_text(encoding="utf-8"))["warnings"]]


@pytest.mark.slow
def test_warnings_lead_the_run_and_reach_summary_and_report(monthly: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(app, ["account", str(monthly), "--out", str(out), "--engine", "memory"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    text = res.output
    assert text.index("warning(s) in this run") < text.index("GEP 2023")  # before the results
    assert "P − R − ET < 0 on" in text and "water_conservation (水源涵养) is 0 in every region" in text
    whats = _what(out / "summary.json")
    assert any(w.startswith("P − R − ET < 0 on") and "(100.0 %)" in w for w in whats)
    assert "water_conservation (水源涵养) is 0 in every region: it disappears from the results" in whats
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="warnings"' in html and html.index('id="warnings"') < html.index("总览 Headline")
    assert "is 0 in every region" in html

    # the streamed engine finds the same warnings (the scan's facts, the same checks)
    streamed = tmp_path / "streamed"
    res = runner.invoke(app, ["account", str(monthly), "--out", str(streamed), "--engine", "streamed",
                              "--no-reports"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert _what(streamed / "summary.json") == whats

    # and `validate` shows every input warning of the run (the results' come from the run)
    res = runner.invoke(app, ["validate", str(monthly)], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "1 warning(s) (above)" in res.output
    assert "P − R − ET < 0 on 421 of 421 pixels" in " ".join(res.output.split())


def test_a_clean_demo_has_no_input_warnings(demo_2km: Path) -> None:
    res = runner.invoke(app, ["validate", str(demo_2km)], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "0 warning(s)" in res.output, res.output

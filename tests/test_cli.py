"""The command line: validate, account (writes nothing on bad input), profiles."""

from __future__ import annotations

import json

import numpy as np
from tests.tiny import LANDCOVER_ROWS, N, write_tiny_dataset
from typer.testing import CliRunner

from ecovalue.cli.main import app

runner = CliRunner()


def test_validate_ok_and_errors(tmp_path):
    good = write_tiny_dataset(tmp_path / "good")
    res = runner.invoke(app, ["validate", str(good)])
    assert res.exit_code == 0, res.output
    assert "OK" in res.output
    precip = np.full((N, N), 1200.0)
    precip[0, 0] = -3
    bad = write_tiny_dataset(tmp_path / "bad", rasters={"precipitation": precip},
                             lc_rows=[r for r in LANDCOVER_ROWS if r[0] != 3])
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 1
    assert "land-cover codes 3" in res.output and "below 0" in res.output


def test_account_writes_nothing_when_validation_fails(tmp_path):
    bad = write_tiny_dataset(tmp_path / "bad", lc_rows=[r for r in LANDCOVER_ROWS if r[0] != 3])
    out = tmp_path / "run"
    res = runner.invoke(app, ["account", str(bad), "--out", str(out)])
    assert res.exit_code == 1
    assert "nothing was written" in res.output
    assert not out.exists()


def test_account_writes_all_outputs(tmp_path):
    root = write_tiny_dataset(tmp_path / "d")
    out = tmp_path / "run"
    res = runner.invoke(app, ["account", str(root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("results.csv", "summary.json", "results.xlsx", "report.html"):
        assert (out / name).exists(), name
    assert (out / "layers" / "water_conservation_value.tif").exists()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["synthetic"] is True and summary["hashes"]["dataset"]
    assert set(summary["totals"]["by_category"]) == {"provisioning", "regulating", "cultural"}
    assert "合计" in res.output


def test_profiles_command():
    res = runner.invoke(app, ["profiles", "cn-2022"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    assert "reservoir_cost" in res.output and "assum" in res.output


def test_a_bug_is_a_message_and_status_70_never_a_traceback(tmp_path, monkeypatch):
    # the safety net for what validation cannot foresee: a bug inside a command
    import ecovalue.datasets.loader as loader

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(loader, "open_dataset", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    res = runner.invoke(app, ["validate", str(tmp_path)])
    assert res.exit_code == 70 and res.exception is None or isinstance(res.exception, SystemExit)
    assert "internal error (a bug in ecovalue): RuntimeError: a bug" in res.output
    assert "Traceback" not in res.output
    crash = list(tmp_path.glob("ecovalue-crash-*.txt"))
    assert len(crash) == 1 and "Traceback" in crash[0].read_text(encoding="utf-8")


def test_out_is_checked_before_any_work(tmp_path):
    root = write_tiny_dataset(tmp_path / "d")
    (tmp_path / "file").write_text("x")
    res = runner.invoke(app, ["account", str(root), "--out", str(tmp_path / "file" / "run")])
    assert res.exit_code == 1 and "is a file, so no folder can be made below it" in res.output
    assert "accounting" not in res.output  # the run did not start

"""README.md's result table, generated from the account ``make demo`` runs.

``.venv/bin/python bench/readme_table.py`` builds the demo city as ``make demo`` does
(``ecovalue demo-data --resolution 200``, seed 0, year 2023), runs its account (no maps or
report: the table only needs the numbers) and writes the table between the README's
``<!-- demo-table -->`` markers; ``--check`` only compares, and exits 1 when the README
differs (``tests/test_readme.py`` runs the check). The rows come from
:func:`ecovalue.reports.totals.totals_rows`, the same as the table ``ecovalue account``
prints, so the README shows what a new user sees.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- demo-table:begin (bench/readme_table.py) -->", "<!-- demo-table:end -->"
RESOLUTION, SEED, YEAR, TOP = 200.0, 0, 2023, 3  # make demo's DEMO_RES and demo-data's defaults


def demo_table(resolution: float = RESOLUTION, workdir: Path | None = None) -> str:
    """The Markdown table of the demo account at ``resolution`` metres."""
    from ecovalue.accounting.pipeline import run_account
    from ecovalue.datasets.demo import build_demo
    from ecovalue.reports.totals import totals_markdown

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        root = build_demo(Path(tmp) / "wuhan", resolution=resolution, seed=SEED, year=YEAR)
        result = run_account(root, "cn-2022", year=YEAR)
    return totals_markdown(result, top=TOP)


def readme_block(text: str) -> str:
    """The table the README holds between the markers (ValueError when they are missing)."""
    m = re.search(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), text, flags=re.S)
    if m is None:
        raise ValueError(f"README.md has no {BEGIN} … {END} block; add the markers around the table")
    return m.group(1)


def with_table(text: str, table: str) -> str:
    """``text`` with the block between the markers replaced by ``table``."""
    readme_block(text)
    return re.sub(re.escape(BEGIN) + r"\n.*?" + re.escape(END), lambda _: f"{BEGIN}\n{table}{END}",
                  text, flags=re.S)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 if README.md differs")
    ap.add_argument("--resolution", type=float, default=RESOLUTION, help="pixel size in metres")
    args = ap.parse_args(argv)
    table = demo_table(args.resolution)
    text = README.read_text(encoding="utf-8")
    if args.check:
        if readme_block(text) != table:
            print(f"README.md's table differs from the demo run's:\n{table}", file=sys.stderr)
            return 1
        print("README.md's table is the demo run's")
        return 0
    README.write_text(with_table(text, table), encoding="utf-8")
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

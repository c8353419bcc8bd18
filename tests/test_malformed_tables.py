"""The malformed-dataset corpus, part two: statistics, reported quantities, prices, the price
index, profiles and the output folder (``tests/test_malformed.py`` says what each case checks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.malformed import Case, check_case, part

CORPUS = part("tables")


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_malformed_table_gets_a_clear_answer(case: Case, demo_2km: Path, tmp_path: Path) -> None:
    check_case(case, demo_2km, tmp_path)

"""The malformed-dataset corpus (``tests/malformed.py``), part one: the manifest, the rasters,
the vector layers and the land-cover table (part two: ``test_malformed_tables.py``).

Every case breaks a copy of the 2 km demo and runs ``ecovalue validate`` and ``ecovalue
account --out OUT`` in this process. An error case must exit 1 from both, with a message
that contains what was found, where, what was expected and how to fix it, no traceback, no
"internal error", and nothing written to OUT; a warning case must exit 0 from ``validate``
and print the warning. ``account`` runs only up to its checks (an error stops it before
any computation), so the corpus stays fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.malformed import CASES, Case, check_case, part

CORPUS = part("inputs")


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 70
    assert sum(c.severity == "error" for c in CASES) >= 60


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_malformed_dataset_gets_a_clear_answer(case: Case, demo_2km: Path, tmp_path: Path) -> None:
    check_case(case, demo_2km, tmp_path)

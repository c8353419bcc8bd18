"""Serial ranges: the lots of a serial commodity, as inclusive integer intervals.

A serial commodity (an allowance, a carbon-sink credit, a discharge right) counts its units
in *serials*, one serial per smallest quantity (10^-places of the commodity's unit), so a
quantity of 133.252 t with 3 decimal places is 133,252 serials. A lot is one range
``(start, end)``, both ends inclusive, held by one account. Moving part of a lot splits it
into two new ranges; ranges are never merged or edited (the open registries' "split, never
mutate": UNDP ``splitCreditBlockSerialNumber``, CAD Trust ``serialNumberBlock``;
docs/decisions/0121-lots-in-the-journal.md).

Every function here is pure and takes and returns tuples.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

Range = tuple[int, int]


def count(ranges: Iterable[Range]) -> int:
    """Number of serials in ``ranges``."""
    return sum(e - s + 1 for s, e in ranges)


def check_ranges(ranges: Sequence[Range]) -> str | None:
    """Why ``ranges`` is not a list of disjoint, well-formed ranges (None when it is)."""
    last = None
    for s, e in sorted(ranges):
        if s < 1 or e < s:
            return f"range {s}-{e} is not a range of positive serials with start ≤ end"
        if last is not None and s <= last:
            return f"range {s}-{e} overlaps the range before it (ending at {last})"
        last = e
    return None


def take_fifo(lots: Sequence[Range], n: int) -> tuple[tuple[Range, ...], tuple[Range, ...]]:
    """Take the ``n`` lowest serials of ``lots`` (sorted, as the journal keeps them):
    (taken, left), both sorted.

    The last lot touched is split in two when only part of it is needed; only the lots
    taken are visited, so taking from an account with many lots stays cheap. Raises
    ValueError when ``lots`` hold fewer than ``n`` serials.
    """
    taken: list[Range] = []
    need = n
    i = 0
    while need > 0:
        if i >= len(lots):
            raise ValueError(f"{n} serials asked, only {n - need} held")
        s, e = lots[i]
        size = e - s + 1
        if size <= need:
            taken.append((s, e))
            need -= size
            i += 1
        else:
            taken.append((s, s + need - 1))
            return tuple(taken), ((s + need, e), *lots[i + 1 :])
    return tuple(taken), tuple(lots[i:])


def take_exact(lots: Sequence[Range], wanted: Sequence[Range]) -> tuple[Range, ...] | None:
    """``lots`` (sorted) without the serials of ``wanted``, or None when some wanted serial is
    not held.

    Each held lot that only partly overlaps a wanted range is split; what stays behind are
    new ranges. The lots are found by binary search, so the cost follows the lots touched.
    """
    left = tuple(lots)
    for ws, we in sorted(wanted):
        i = bisect.bisect_right(left, (ws, float("inf"))) - 1
        if i < 0 or left[i][1] < ws:
            return None
        j, covered = i, ws
        while j < len(left) and left[j][0] <= we:  # the lots tiling ws..we, without a hole
            if left[j][0] > covered:
                return None
            covered = left[j][1] + 1
            j += 1
        if covered <= we:
            return None
        rest = tuple(r for r in ((left[i][0], ws - 1), (we + 1, left[j - 1][1])) if r[0] <= r[1])
        left = left[:i] + rest + left[j:]
    return left


def cut(stream: Sequence[Range], n: int) -> tuple[tuple[Range, ...], tuple[Range, ...]]:
    """The first ``n`` serials of ``stream`` (kept in stream order) and the rest."""
    head: list[Range] = []
    rest = list(stream)
    need = n
    while need > 0:
        if not rest:
            raise ValueError(f"{n} serials asked, only {n - need} in the stream")
        s, e = rest[0]
        size = e - s + 1
        if size <= need:
            head.append(rest.pop(0))
            need -= size
        else:
            head.append((s, s + need - 1))
            rest[0] = (s + need, e)
            need = 0
    return tuple(head), tuple(rest)


def add(lots: Sequence[Range], new: Iterable[Range]) -> tuple[Range, ...]:
    """``lots`` (sorted) with the ranges of ``new`` added in order, as separate lots (nothing
    is merged). Each insertion is a binary search and one copy."""
    out = list(lots)
    for r in new:
        bisect.insort(out, r)
    return tuple(out)


def overlaps(a: Range, b: Range) -> bool:
    """True when two ranges share a serial."""
    return a[0] <= b[1] and b[0] <= a[1]


def to_text(ranges: Iterable[Range]) -> str:
    """``"1-100,201-250"``: the compact text of a list of ranges (the postings index)."""
    return ",".join(f"{s}-{e}" for s, e in ranges)


def from_text(text: str) -> tuple[Range, ...]:
    """The inverse of :func:`to_text`; raises ValueError on a malformed text."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        s, _, e = part.partition("-")
        out.append((int(s), int(e)))
    return tuple(out)

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
    """Take the ``n`` lowest serials of ``lots``: (taken, left), both sorted.

    The last lot touched is split in two when only part of it is needed. Raises ValueError
    when ``lots`` hold fewer than ``n`` serials.
    """
    taken: list[Range] = []
    need = n
    ordered = sorted(lots)
    i = 0
    while need > 0:
        if i >= len(ordered):
            raise ValueError(f"{n} serials asked, only {n - need} held")
        s, e = ordered[i]
        size = e - s + 1
        if size <= need:
            taken.append((s, e))
            need -= size
            i += 1
        else:
            taken.append((s, s + need - 1))
            ordered[i] = (s + need, e)
            need = 0
    return tuple(taken), tuple(ordered[i:])


def take_exact(lots: Sequence[Range], wanted: Sequence[Range]) -> tuple[Range, ...] | None:
    """``lots`` without the serials of ``wanted``, or None when some wanted serial is not held.

    Each held lot that only partly overlaps a wanted range is split; what stays behind are
    new ranges.
    """
    left = sorted(lots)
    for ws, we in sorted(wanted):
        hit = [(s, e) for s, e in left if s <= we and ws <= e]
        covered = ws
        for s, e in hit:  # sorted, disjoint: they must tile ws..we without a hole
            if s > covered:
                return None
            covered = e + 1
        if not hit or covered <= we:
            return None
        kept = [r for r in left if r not in hit]
        first, last = hit[0], hit[-1]
        kept += [r for r in ((first[0], ws - 1), (we + 1, last[1])) if r[0] <= r[1]]
        left = sorted(kept)
    return tuple(left)


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
    """``lots`` with the ranges of ``new`` added (as separate lots: nothing is merged).

    The order is not kept sorted (taking serials sorts): crediting an account that holds many
    lots then costs a copy, not a sort.
    """
    return (*lots, *new)


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

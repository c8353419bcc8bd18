"""Pure rules of the rights register: terms, mortgages, shares, red lines, overlaps, area.

No I/O here: services gather the facts from the database and call these functions, which
return :class:`~ecovalue.errors.Problem` lists (empty = accepted).

Rights follow the 三权分置 split of rural land (ownership 所有权 / contracting 承包权 /
operation 经营权) and the state-owned 使用权 of the 自然资源统一确权登记暂行办法 (2019).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import pyproj
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from ecovalue.errors import Problem


class ResourceType(StrEnum):
    """Kinds of natural resource a parcel registers (自然资源类型)."""

    forest = "forest"
    wetland = "wetland"
    water = "water"
    grassland = "grassland"
    cropland = "cropland"
    state_land = "state_land"
    mineral = "mineral"
    shrub = "shrub"
    bare = "bare"


class OwnerKind(StrEnum):
    """全民所有 (state) or 集体所有 (collective)."""

    state = "state"
    collective = "collective"


class RightKind(StrEnum):
    """Ownership 所有权, contracting 承包权, use/operation 使用权/经营权."""

    ownership = "ownership"
    contracting = "contracting"
    use_operation = "use_operation"


class TxKind(StrEnum):
    """Rights transactions: 出让 grant, 转让 transfer, 出租 lease, 抵押 mortgage, 入股 equity."""

    grant = "grant"
    transfer = "transfer"
    lease = "lease"
    mortgage = "mortgage"
    mortgage_release = "mortgage_release"
    equity_contribution = "equity_contribution"


# Activities allowed inside an ecological-protection red line (生态保护红线) outside core
# protected areas: 中共中央办公厅 国务院办公厅《关于在国土空间规划中统筹划定落实三条控制线的
# 指导意见》(2019) §二(四); 自然资源部等《关于加强生态保护红线管理的通知（试行）》(2022).
# Default list only: each register stores its own list (configurable data).
DEFAULT_RED_LINE_ALLOWED_USES: tuple[str, ...] = (
    "ecological_protection",
    "ecological_restoration",
    "scientific_research",
    "resource_survey_monitoring",
    "disaster_prevention",
    "low_impact_tourism",
    "traditional_livelihood",
    "national_defence",
    "linear_infrastructure",
)

ONE = Decimal(1)
_FAR_FUTURE = dt.date.max


@dataclass(frozen=True)
class Interval:
    """A right's effective holding interval, both ends inclusive; ``end`` None = open-ended."""

    start: dt.date
    end: dt.date | None
    share: Decimal

    def overlaps(self, other: Interval) -> bool:
        return self.start <= (other.end or _FAR_FUTURE) and other.start <= (self.end or _FAR_FUTURE)


def check_term(
    right_start: dt.date,
    right_end: dt.date | None,
    tx_start: dt.date,
    tx_end: dt.date | None,
    what: str,
) -> list[Problem]:
    """A lease, transfer or mortgage must lie inside the term of the right it is made from."""
    fix = "shorten the transaction to the right's term, or extend the right first"
    problems = []
    if tx_end is not None and tx_end < tx_start:
        problems.append(
            Problem(
                what,
                f"ends {tx_end} before it starts {tx_start}",
                "end date on or after start date",
                "swap or correct the dates",
            )
        )
    if tx_start < right_start:
        problems.append(
            Problem(
                what,
                f"starts {tx_start}, before the right starts {right_start}",
                f"start on or after {right_start}",
                fix,
            )
        )
    if right_end is not None:
        if tx_start > right_end:
            problems.append(
                Problem(
                    what,
                    f"starts {tx_start}, after the right ended {right_end}",
                    f"start on or before {right_end}",
                    fix,
                )
            )
        if tx_end is None or tx_end > right_end:
            problems.append(
                Problem(
                    what,
                    f"runs to {tx_end or 'no end'}, beyond the right's term ending {right_end}",
                    f"end on or before {right_end}",
                    fix,
                )
            )
    return problems


def check_disposable(right_kind: str, action: str) -> list[Problem]:
    """Ownership of natural resources is never transferred, mortgaged or leased.

    全民所有 and 集体所有 ownership stays with the owner (民法典 第242、260条; 自然资源统一确权
    登记暂行办法 2019); what the owner conveys is a use right, by grant (出让, which includes
    国有土地租赁, a lease of state land as a form of paid use: 国土资发〔1999〕222号). A lease of
    the ownership right would create a use right beside the granted ones without their share
    check, so it is refused like transfer and mortgage (docs/decisions/0106-mortgages.md).
    """
    if right_kind != RightKind.ownership.value:
        return []
    return [
        Problem(
            "right",
            f"ownership of natural resources cannot be the object of a {action}",
            "a contracting or use/operation right",
            f"grant a use right on the parcel instead (POST /api/registry/parcels/{{id}}/rights; "
            f"a lease by the owner is a granted use_operation right with the rent as amount), "
            f"then {action} that right",
        )
    ]


@dataclass(frozen=True)
class Mortgage:
    """A mortgage on a right (or on a predecessor it followed) and when it was released."""

    id: int
    mortgagee: str
    start: dt.date
    end: dt.date
    released_on: dt.date | None = None

    @property
    def last_day(self) -> dt.date | None:
        """The last day it burdens the right; None when released on its first day."""
        last = self.end
        if self.released_on is not None:
            last = min(last, self.released_on - dt.timedelta(days=1))
        return last if last >= self.start else None

    def active_on(self, on: dt.date) -> bool:
        last = self.last_day
        return last is not None and self.start <= on <= last

    def overlaps(self, start: dt.date, end: dt.date | None) -> bool:
        """True when it burdens the right on any day of ``start``..``end`` (None = open)."""
        last = self.last_day
        return last is not None and self.start <= (end or _FAR_FUTURE) and start <= last


def check_mortgage_consent(
    mortgages: Sequence[Mortgage], start: dt.date, end: dt.date | None, consent_of: Sequence[str]
) -> list[Problem]:
    """A right moves only with the consent of every mortgagee whose mortgage overlaps the
    transferred period ``start``..``end``, now or later in the term.

    民法典 第406条 lets the mortgagor transfer a mortgaged property (the mortgage following it)
    unless the parties agreed otherwise, with notice to the mortgagee. This register asks for
    the mortgagee's consent always, a stricter rule than the article's default: no mortgagee
    learns of a transfer after the fact, and no contract has to be read to know whether
    transfer was restricted (docs/decisions/0106-mortgages.md).
    """
    problems = []
    for m in mortgages:
        if m.overlaps(start, end) and m.mortgagee not in consent_of:
            problems.append(
                Problem(
                    "transfer",
                    f"the right is mortgaged to '{m.mortgagee}' from {m.start} to {m.last_day} "
                    f"(mortgage {m.id}), which overlaps the transferred period from {start}, "
                    "and the mortgagee has not consented",
                    f"consent of mortgagee '{m.mortgagee}'",
                    "record the mortgagee's consent (consent_of) or release the mortgage first",
                )
            )
    return problems


def check_release(mortgage: Mortgage, on: dt.date) -> list[Problem]:
    """A release is one event, dated within the mortgage's term, recorded once."""
    where = f"release of mortgage {mortgage.id}"
    if mortgage.released_on is not None:
        return [
            Problem(
                where,
                f"the mortgage was already released on {mortgage.released_on}",
                "a mortgage not yet released",
                "nothing to do; a release is recorded once and never changed",
            )
        ]
    if on < mortgage.start:
        return [
            Problem(
                where,
                f"is dated {on}, before the mortgage starts {mortgage.start}: it would erase "
                "the mortgage from dates it was in force",
                f"a date on or after {mortgage.start}",
                "give the date the loan was repaid",
            )
        ]
    if on > mortgage.end:
        return [
            Problem(
                where,
                f"is dated {on}, after the mortgage ended on {mortgage.end}",
                f"a date from {mortgage.start} to {mortgage.end}",
                "nothing to release: the mortgage already ended",
            )
        ]
    return []


def max_concurrent_share(intervals: Iterable[Interval]) -> Decimal:
    """The largest sum of shares held at the same moment (sweep over interval ends)."""
    events: list[tuple[dt.date, int, Decimal]] = []
    for iv in intervals:
        events.append((iv.start, 0, iv.share))
        if iv.end is not None:
            events.append((iv.end + dt.timedelta(days=1), -1, -iv.share))
    # At equal dates the ends (-1) are applied before the starts (0).
    total = best = Decimal(0)
    for _, _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        total += delta
        best = max(best, total)
    return best


def check_shares(
    existing: Iterable[Interval], new: Interval, limit: Decimal = ONE, what: str = "right"
) -> list[Problem]:
    """Shares of one kind of right on a parcel (or leases of one right) never exceed ``limit``."""
    problems = []
    if not (Decimal(0) < new.share <= ONE):
        problems.append(
            Problem(
                what,
                f"share {new.share} is outside (0, 1]",
                "a fraction such as 0.5 for 50 %",
                "give the share as a fraction",
            )
        )
        return problems
    overlapping = [iv for iv in existing if iv.overlaps(new)]
    peak = max_concurrent_share([*overlapping, new])
    if peak > limit:
        problems.append(
            Problem(
                what,
                f"shares would reach {peak} at some date in {new.start}..{new.end or 'open end'}",
                f"at most {limit} held at any one time",
                f"reduce the share to at most {new.share - (peak - limit)} or "
                "choose dates when other holders' rights have ended",
            )
        )
    return problems


def check_red_line(red_line: bool, use: str | None, allowed_uses: Sequence[str]) -> list[Problem]:
    """A right on a red-line parcel must state a use that the red line allows."""
    if not red_line:
        return []
    if use in allowed_uses:
        return []
    return [
        Problem(
            "use",
            f"use '{use}' is not allowed on an ecological red-line parcel",
            "one of: " + ", ".join(allowed_uses),
            "choose an allowed use or a parcel outside the red line",
        )
    ]


def find_overlaps(
    geometry: BaseGeometry, others: Sequence[tuple[str, BaseGeometry]], tolerance_m2: float
) -> list[tuple[str, float]]:
    """(code, overlap area) of every parcel whose overlap with ``geometry`` exceeds the tolerance.

    Areas are in squared CRS units; the register uses a projected CRS, so m².
    """
    if not others:
        return []
    tree = STRtree([g for _, g in others])
    hits = []
    for idx in tree.query(geometry, predicate="intersects"):
        code, other = others[int(idx)]
        area = float(geometry.intersection(other).area)
        if area > tolerance_m2:
            hits.append((code, area))
    return hits


def check_geometry(geometry: BaseGeometry) -> list[Problem]:
    """A parcel geometry must be a valid, non-empty polygon or multipolygon."""
    from shapely.validation import explain_validity

    if geometry is None or geometry.is_empty:
        return [Problem("geometry", "is empty", "a polygon", "draw the parcel boundary")]
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        return [
            Problem(
                "geometry",
                f"is a {geometry.geom_type}",
                "Polygon or MultiPolygon",
                "register areas, not points or lines",
            )
        ]
    if not geometry.is_valid:
        return [
            Problem(
                "geometry",
                f"is invalid: {explain_validity(geometry)}",
                "a valid polygon (no self-intersection)",
                "repair it, e.g. shapely.make_valid or QGIS 'Fix geometries'",
            )
        ]
    return []


def area_m2(geometry: BaseGeometry, crs: pyproj.CRS) -> Decimal:
    """Area in m², rounded to 0.01 m² (ROUND_HALF_EVEN).

    Projected CRS (e.g. CGCS2000 / 3° Gauss-Krüger, EPSG:4547): planar area in the CRS's
    metres. Geographic CRS (EPSG:4490/4326): geodesic area on the CRS's ellipsoid
    (pyproj.Geod, Karney 2013), which needs no projection at all.
    """
    if crs.is_projected:
        factor = crs.axis_info[0].unit_conversion_factor
        value = geometry.area * factor * factor
    else:
        geod = crs.get_geod()
        if geod is None:
            raise ValueError(f"CRS {crs.to_string()} has no ellipsoid to measure areas on")
        value = abs(geod.geometry_area_perimeter(geometry)[0])
    return Decimal(repr(value)).quantize(Decimal("0.01"))

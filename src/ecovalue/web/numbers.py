"""Numbers the way Chinese statistics print them: one money unit per page (亿元 or 万元),
thousands separators, exact Decimal arithmetic — the pages' side of :mod:`ecovalue.units`.

A page picks its money unit once from the largest amount it shows (:func:`money_scale`, which
is :func:`ecovalue.units.money_unit`), so a table never mixes 亿元 and 万元; every amount on
that page is then printed in that unit by :func:`money`. Amounts, quantities and units are
spelled by :mod:`ecovalue.units` (``format_amount``, ``format_quantity``, ``format_unit``:
m³, kW·h, 元), the same as in every other output; this module only adds the unit's label
from the pages' message catalogue and the signed form of a change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from ecovalue.accounting.catalogue import INDICATORS  # noqa: F401  (templates: n.INDICATORS)
from ecovalue.units import (
    DASH,
    WAN_YUAN,
    YI_YUAN,
    YUAN,
    MoneyUnit,
    format_amount,
    format_quantity,
    format_unit,
    money_unit,
)


@dataclass(frozen=True)
class MoneyScale:
    """The money unit of a page and the message key of its label."""

    unit: MoneyUnit
    key: str  # money.yi | money.wan | money.yuan

    @property
    def factor(self) -> Decimal:
        """How many 元 one of the page's unit is."""
        return self.unit.yuan


YI_SCALE = MoneyScale(YI_YUAN, "money.yi")
WAN_SCALE = MoneyScale(WAN_YUAN, "money.wan")
YUAN_SCALE = MoneyScale(YUAN, "money.yuan")
_SCALES = {s.unit: s for s in (YI_SCALE, WAN_SCALE, YUAN_SCALE)}


def money_scale(values: Iterable[Decimal | None]) -> MoneyScale:
    """亿元 when the largest amount reaches 1 亿元, 万元 when it reaches 1 万元, else 元."""
    return _SCALES[money_unit(values)]


def scaled(value: Decimal, scale: MoneyScale, places: int = 2) -> Decimal:
    """``value`` 元 in the page's unit, rounded half-even to ``places`` decimals."""
    return (value / scale.factor).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def money(value: Decimal | None, scale: MoneyScale, places: int = 2) -> str:
    """An amount in the page's unit with thousands separators: ``1,274.25``."""
    if value is None:
        return DASH
    return format_amount(scaled(value, scale, places), places)


def signed_money(value: Decimal | None, scale: MoneyScale, places: int = 2) -> str:
    """A change with its sign: ``+12.30`` / ``−4.00``."""
    if value is None:
        return DASH
    text = money(abs(value), scale, places)
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def quantity(value: float | Decimal | None) -> str:
    """A physical quantity: thousands separators, two decimals; small numbers with 3 digits."""
    return format_quantity(value)


def percent(part: Decimal, whole: Decimal, places: int = 1) -> str:
    """``part`` as a percentage of ``whole`` (``—`` when the whole is zero)."""
    if not whole:
        return DASH
    return f"{(part * 100 / whole).quantize(Decimal(1).scaleb(-places)):,.{places}f} %"


def unit(text: str) -> str:
    """A unit as people write it (m³, kW·h, 元)."""
    return format_unit(text)

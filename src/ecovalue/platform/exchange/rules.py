"""Pure rules of the eco-rights exchange: programmes, instruments, participants, orders, money.

Programmes (an allowance scheme, forestry sinks, 排污权 per pollutant, 水权, 用能权, the
indicator trades) and their instruments are data (the rule set in ``rulesets/``, each number
with its source). These functions check an instrument, an order and a participant's
eligibility, and do the exact money arithmetic of a trade; they return
:class:`~ecovalue.errors.Problem` lists (empty = accepted) and never touch the database.

Money (docs/decisions/0124-exact-trade-money.md): an instrument's tick times its smallest
quantity is a whole number of fen, so ``price × quantity`` is exact; fees are rounded down
to the fen (in the payer's favour) and a buy order reserves ``value + fee rounded up``, which
always covers every fill the order can make.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from functools import cached_property

from ecovalue.errors import Problem
from ecovalue.platform.ledger.rules import UNIT_TYPES, AccountKind

FEN = Decimal("0.01")
ZERO = Decimal(0)


class ProgrammeKind(StrEnum):
    """What a programme's units are."""

    allowance = "allowance"
    forestry_sink = "forestry_sink"
    carbon_inclusion = "carbon_inclusion"
    discharge = "discharge"
    water = "water"
    energy = "energy"
    indicator = "indicator"


class ParticipantKind(StrEnum):
    """Who may hold or buy an instrument."""

    enterprise = "enterprise"
    individual = "individual"
    institution = "institution"
    district = "district"  # a district government (indicator trades, regional water rights)
    government = "government"  # an allocating authority (排污权, 水权 quotas)


class Side(StrEnum):
    buy = "buy"
    sell = "sell"


class OrderKind(StrEnum):
    """A limit order, or market-to-limit: takes the best opposite price and rests there."""

    limit = "limit"
    market_to_limit = "market_to_limit"


class TimeInForce(StrEnum):
    """Good till cancelled, for the trading day, or good till a date-time."""

    gtc = "gtc"
    day = "day"
    gtd = "gtd"


class TradingMode(StrEnum):
    continuous = "continuous"  # continuous double auction
    call = "call"  # periodic call auction
    bidding = "bidding"  # electronic bidding (电子竞价) on a listing
    negotiated = "negotiated"  # negotiated transfer (协议转让)


class SelfTrade(StrEnum):
    """What happens when an order would trade with its own participant's resting order."""

    cancel_incoming = "cancel_incoming"
    cancel_resting = "cancel_resting"


class BlockStatus(StrEnum):
    """Statuses of a serial block (CAD Trust's unitStatus, UNDP's credit states)."""

    issued = "issued"  # held by its first holder since issuance
    held = "held"
    escrowed = "escrowed"
    frozen = "frozen"
    pledged = "pledged"
    retired = "retired"
    cancelled = "cancelled"
    expired = "expired"
    buffer = "buffer"


# A block's status is where it is: the kind of the account holding it.
STATUS_OF_ACCOUNT: Mapping[AccountKind, BlockStatus] = {
    AccountKind.holding: BlockStatus.held,
    AccountKind.escrow: BlockStatus.escrowed,
    AccountKind.clearing: BlockStatus.escrowed,
    AccountKind.frozen: BlockStatus.frozen,
    AccountKind.pledged: BlockStatus.pledged,
    AccountKind.retirement: BlockStatus.retired,
    AccountKind.cancelled: BlockStatus.cancelled,
    AccountKind.expired: BlockStatus.expired,
    AccountKind.buffer: BlockStatus.buffer,
}


@dataclass(frozen=True)
class Programme:
    """A programme of the rule set: its unit, grid, modes, eligibility and sources."""

    code: str
    kind: ProgrammeKind
    name_zh: str
    name_en: str
    serial_prefix: str
    unit: str
    places: int
    tick: Decimal
    lot: Decimal
    modes: frozenset[TradingMode]
    holder_kinds: frozenset[ParticipantKind]
    buyer_kinds: frozenset[ParticipantKind]
    fee_buy: Decimal
    fee_sell: Decimal
    band: Decimal | None
    negotiated_band: Decimal | None
    settlement_days: int
    self_trade: SelfTrade
    validity_years: int | None = None
    buffer_share: Decimal | None = None
    floor_price: Decimal | None = None
    negotiated_approval: bool = False
    scope: str | None = None  # "city" (same 市) or "basin" (same 流域) for discharge rights
    extra: Mapping[str, object] = field(default_factory=dict)  # pollutant, indicator, …
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Instrument:
    """A tradable instrument: a programme's units of one vintage (and region), as traded.

    ``code`` is also the journal commodity of its units. ``regions`` are administrative
    code prefixes a holder must be in (empty: anywhere); ``sectors`` the sectors allowed.
    """

    code: str
    programme: Programme
    vintage: int
    tick: Decimal
    lot: Decimal
    modes: frozenset[TradingMode]
    fee_buy: Decimal
    fee_sell: Decimal
    band: Decimal | None
    negotiated_band: Decimal | None
    settlement_days: int
    self_trade: SelfTrade
    reference_price: Decimal | None = None
    floor_price: Decimal | None = None
    regions: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    blocked_regions: tuple[str, ...] = ()  # regions that missed their target: may not buy
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    negotiated_approval: bool = False
    halted: bool = False

    @property
    def places(self) -> int:
        return self.programme.places

    @cached_property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.programme.places)

    @property
    def unit(self) -> str:
        return self.programme.unit

    def price(self, value: Decimal) -> Decimal:
        """A stored price shown on the instrument's tick grid (4 stored places → the tick's)."""
        q = value.quantize(self.tick)
        return q if q == value else value

    def qty(self, value: Decimal) -> Decimal:
        """A stored quantity with the instrument's decimal places."""
        return value.quantize(self.quantum)


@dataclass(frozen=True)
class Participant:
    """A market participant: code, kind, where it is (administrative code), basin and sector."""

    code: str
    name: str
    kind: ParticipantKind
    region_code: str
    basin: str | None = None
    sector: str | None = None
    active: bool = True


# ------------------------------------------------------------------ money


def trade_value(price: Decimal, qty: Decimal) -> Decimal:
    """``price × qty`` in 元; exact in fen by the instrument rule (see :func:`check_instrument`)."""
    return (price * qty).quantize(FEN)


def fee(value: Decimal, rate: Decimal) -> Decimal:
    """The fee on a trade value, rounded down to the fen (in the payer's favour)."""
    return (value * rate).quantize(FEN, rounding=ROUND_FLOOR)


def buy_reserve(limit: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    """Cash a buy order reserves: value at its limit plus that value's fee rounded up.

    It covers any fills at prices ≤ ``limit`` that add up to ``qty``: fees rounded down on
    each fill never sum to more than the rounded-up fee on the whole.
    """
    value = trade_value(limit, qty)
    return value + (value * rate).quantize(FEN, rounding=ROUND_CEILING)


@dataclass(frozen=True)
class FillMoney:
    """The money of one fill: value, fees, what the buy order's reserve releases and keeps."""

    value: Decimal
    fee_buy: Decimal
    fee_sell: Decimal
    release: Decimal  # back to the buyer's cash now
    reserve_after: Decimal  # still reserved for the buy order's remaining quantity


def fill_money(
    price: Decimal, qty: Decimal, limit: Decimal, left_after: Decimal, reserve_before: Decimal,
    fee_buy_rate: Decimal, fee_sell_rate: Decimal,
) -> FillMoney:  # fmt: skip
    """Settle ``qty`` at ``price`` against a buy order with ``limit`` and ``reserve_before``.

    The order keeps ``buy_reserve(limit, left_after)`` for what it still may buy and gives
    the rest back; that release is never negative (see :func:`buy_reserve`).
    """
    value = trade_value(price, qty)
    fb, fs = fee(value, fee_buy_rate), fee(value, fee_sell_rate)
    after = buy_reserve(limit, left_after, fee_buy_rate) if left_after > 0 else ZERO
    release = reserve_before - value - fb - after
    if release < 0:
        raise ValueError(f"reserve {reserve_before} does not cover {value} + {fb} + {after}")
    return FillMoney(value, fb, fs, release, after)


def serial_label(prefix: str, first: int, last: int, vintage: int) -> str:
    """The block serial ``prefix-first-last-vintage`` (UNDP's block serial form)."""
    return f"{prefix}-{first}-{last}-{vintage}"


# ------------------------------------------------------------------ checks


def _multiple(value: Decimal, step: Decimal) -> bool:
    return step > 0 and value % step == 0


def check_instrument(i: Instrument) -> list[Problem]:
    """An instrument's grid, band and fees are usable and its money arithmetic is exact."""
    p, out = i.programme, []
    where = f"instrument {i.code}"
    if p.unit not in UNIT_TYPES:
        out.append(Problem(where, f"unit '{p.unit}' is unknown", ", ".join(UNIT_TYPES),
                           "use a unit of ecovalue.platform.ledger.rules.UNIT_TYPES"))  # fmt: skip
    if i.tick <= 0 or i.lot <= 0:
        out.append(Problem(where, f"tick {i.tick} and lot {i.lot} must be positive",
                           "tick > 0 and lot > 0", "set both in the rule set"))  # fmt: skip
        return out
    if not _multiple(i.lot, i.quantum):
        out.append(Problem(where, f"lot {i.lot} is finer than {p.places} decimal places",
                           f"a multiple of {i.quantum}", "round the lot"))  # fmt: skip
    if (i.tick * i.quantum) % FEN != 0:
        out.append(
            Problem(where, f"tick {i.tick} 元 × smallest quantity {i.quantum} = "
                    f"{i.tick * i.quantum} 元 is not a whole number of fen",
                    "tick × 10^-places a multiple of 0.01 元",
                    "raise the tick or lower the decimal places")  # fmt: skip
        )
    for name, rate in (("fee_buy", i.fee_buy), ("fee_sell", i.fee_sell)):
        if not ZERO <= rate < Decimal("0.1"):
            out.append(Problem(where, f"{name} {rate} is outside [0, 0.1)", "a rate such as 0.0075",
                               "give fees as fractions of the trade value"))  # fmt: skip
    for name, band in (("band", i.band), ("negotiated_band", i.negotiated_band)):
        if band is not None and not ZERO < band < 1:
            out.append(Problem(where, f"{name} {band} is outside (0, 1)", "a fraction such as 0.10",
                               "leave it out for no band"))  # fmt: skip
    if i.settlement_days not in (0, 1):
        out.append(Problem(where, f"settlement T+{i.settlement_days}", "T+0 or T+1",
                           "set settlement_days to 0 or 1"))  # fmt: skip
    return out


def band_limits(reference: Decimal | None, band: Decimal | None) -> tuple[Decimal, Decimal] | None:
    """(lowest, highest) price allowed around ``reference``, or None without a band."""
    if reference is None or band is None:
        return None
    return reference * (1 - band), reference * (1 + band)


def check_price(i: Instrument, price: Decimal, band: Decimal | None, what: str) -> list[Problem]:
    """A price is positive, on the tick grid, within the band and not below the floor."""
    out = []
    if price <= 0:
        return [Problem(what, f"price {price} is not positive", "a price > 0 元", "give a price")]
    if not _multiple(price, i.tick):
        lower = (price - price % i.tick).quantize(i.tick)
        out.append(
            Problem(what, f"price {price} 元 is not a multiple of the tick {i.tick} 元",
                    f"a multiple of {i.tick}", f"use {lower} or {lower + i.tick}")  # fmt: skip
        )
    limits = band_limits(i.reference_price, band)
    if limits and not limits[0] <= price <= limits[1]:
        out.append(
            Problem(what, f"price {price} 元 is outside the price band {limits[0]:.2f}–"
                    f"{limits[1]:.2f} 元 (reference {i.reference_price} ± {band:.0%})",
                    "a price inside the band", "choose a price inside the band")  # fmt: skip
        )
    if i.floor_price is not None and price < i.floor_price:
        out.append(
            Problem(what, f"price {price} 元 is below the floor {i.floor_price} 元",
                    f"at least {i.floor_price} 元", "raise the price to the floor")  # fmt: skip
        )
    return out


def check_quantity(i: Instrument, qty: Decimal, what: str) -> list[Problem]:
    """A quantity is positive and a whole number of lots."""
    if qty <= 0:
        return [Problem(what, f"quantity {qty} is not positive", f"a multiple of {i.lot} {i.unit}",
                        "give a quantity")]  # fmt: skip
    if not _multiple(qty, i.lot):
        lower = (qty - qty % i.lot).quantize(i.lot)
        return [
            Problem(what, f"quantity {qty} {i.unit} is not a whole number of lots of {i.lot}",
                    f"a multiple of {i.lot}", f"use {lower or i.lot} or {lower + i.lot}")  # fmt: skip
        ]
    return []


def check_tradable(i: Instrument, mode: TradingMode, today: dt.date) -> list[Problem]:
    """The instrument trades in ``mode`` today (not halted, inside its validity)."""
    where = f"instrument {i.code}"
    out = []
    if mode not in i.modes:
        modes = ", ".join(sorted(m.value for m in i.modes))
        out.append(Problem(where, f"does not trade by {mode.value}", f"one of: {modes}",
                           "use a trading mode the instrument allows"))  # fmt: skip
    if i.halted:
        out.append(Problem(where, "trading is halted by the exchange", "a trading instrument",
                           "wait until the exchange resumes trading"))  # fmt: skip
    if i.valid_until is not None and today > i.valid_until:
        out.append(
            Problem(where, f"the right expired on {i.valid_until} (vintage {i.vintage})",
                    "a right still valid", "expired rights cannot be traded; use a newer vintage")
        )  # fmt: skip
    if i.valid_from is not None and today < i.valid_from:
        out.append(Problem(where, f"is valid only from {i.valid_from}", "a date in its validity",
                           "wait until the right becomes valid"))  # fmt: skip
    return out


def check_eligibility(i: Instrument, p: Participant, side: Side) -> list[Problem]:
    """Whether ``p`` may hold (sell) or buy the instrument under its rules."""
    where = f"participant {p.code}"
    allowed = i.programme.buyer_kinds if side == Side.buy else i.programme.holder_kinds
    out = []
    if not p.active:
        out.append(Problem(where, "is suspended", "an active participant",
                           "ask the exchange to reinstate the participant"))  # fmt: skip
    if p.kind not in allowed:
        names = ", ".join(sorted(k.value for k in allowed))
        out.append(
            Problem(where, f"is a {p.kind.value}; {i.code} may be {'bought' if side == Side.buy else 'held'}"
                    f" only by: {names}", names, "trade an instrument open to your kind")  # fmt: skip
        )
    if i.regions and not any(p.region_code.startswith(r) for r in i.regions):
        out.append(
            Problem(where, f"is registered in region {p.region_code}, outside {i.code}'s area "
                    f"({', '.join(i.regions)})", "a participant of the instrument's area",
                    "trade the instrument of your own city or basin")  # fmt: skip
        )
    if i.sectors and p.sector not in i.sectors:
        out.append(
            Problem(where, f"is in sector '{p.sector}', not one of {', '.join(i.sectors)}",
                    ", ".join(i.sectors), "industrial and agricultural sources trade separately")
        )  # fmt: skip
    if side == Side.buy and any(p.region_code.startswith(r) for r in i.blocked_regions):
        out.append(
            Problem(where, f"region {p.region_code} has not met its target and may not buy "
                    f"increases of {i.code}", "a region that met its target",
                    "meet the target first (hberec.com: 未完成目标地区不得购入)")  # fmt: skip
        )
    return out


def check_order(
    i: Instrument,
    side: Side,
    kind: OrderKind,
    price: Decimal | None,
    qty: Decimal,
    mode: TradingMode,
    today: dt.date,
) -> list[Problem]:
    """Every problem of an order: mode and validity, tick, lot and band."""
    out = check_tradable(i, mode, today)
    out += check_quantity(i, qty, "quantity")
    if kind == OrderKind.limit:
        if price is None:
            out.append(Problem("price", "is missing", "a limit price", "give a price or use "
                               "kind 'market_to_limit'"))  # fmt: skip
        else:
            out += check_price(i, price, i.band, "price")
    elif price is not None:
        out.append(Problem("price", "is given for a market-to-limit order",
                           "no price (it takes the best opposite price)",
                           "leave the price out or use kind 'limit'"))  # fmt: skip
    if kind == OrderKind.market_to_limit and mode == TradingMode.call:
        out.append(Problem("kind", "market-to-limit orders do not enter a call auction",
                           "a limit order", "give a limit price"))  # fmt: skip
    return out


# ------------------------------------------------------------------ issuance from the accounts


@dataclass(frozen=True)
class SinkYear:
    """One project year of a forestry sink: tCO₂e sequestered with and without the project."""

    year: int
    project_t: Decimal
    baseline_t: Decimal
    hashes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SinkIssuance:
    """Issuable credits: gross (project − baseline), the buffer share withheld, the net issued."""

    gross: Decimal
    buffer: Decimal
    net: Decimal


def sink_issuance(years: Sequence[SinkYear], buffer_share: Decimal, places: int) -> SinkIssuance:
    """gross = Σ_years max(0, project − baseline), rounded down to the unit's places;
    buffer = gross × share rounded up; net = gross − buffer.

    Additionality per year follows CCER-14-001-V01 (removals by the project minus the
    baseline scenario's); rounding down the gross and up the buffer never over-issues.
    """
    q = Decimal(1).scaleb(-places)
    gross = sum((max(ZERO, y.project_t - y.baseline_t) for y in years), ZERO)
    gross = gross.quantize(q, rounding=ROUND_FLOOR)
    buffer = (gross * buffer_share).quantize(q, rounding=ROUND_CEILING)
    return SinkIssuance(gross, buffer, gross - buffer)


def check_sink_project(
    years: Sequence[int], start: int, end: int, area_m2: Decimal, min_area_m2: Decimal | None
) -> list[Problem]:
    """A sink issuance covers years inside the project period, once each, on a large-enough parcel."""
    out = []
    outside = [y for y in years if not start <= y <= end]
    if outside:
        out.append(Problem("years", f"{outside} lie outside the project period {start}–{end}",
                           f"years in {start}–{end}", "issue only for project years"))  # fmt: skip
    if len(set(years)) != len(years) or not years:
        out.append(Problem("years", f"{list(years)} are empty or repeat a year", "distinct years",
                           "name each monitored year once"))  # fmt: skip
    if min_area_m2 is not None and area_m2 < min_area_m2:
        out.append(
            Problem("parcel", f"area {area_m2} m² is below the methodology's {min_area_m2} m²",
                    f"at least {min_area_m2} m²", "register a larger project parcel")  # fmt: skip
        )
    return out


# ------------------------------------------------------------------ indicator trades


@dataclass(frozen=True)
class IndicatorPosition:
    """A district's indicator against its target, in the indicator's trade unit."""

    measured: Decimal  # in trade units (亩 of forest, m² of green space, sections)
    target: Decimal  # the quantity the target asks for, same unit
    bought: Decimal
    sold: Decimal

    @property
    def assessed(self) -> Decimal:
        """What counts in the district's assessment: measured + bought − sold."""
        return self.measured + self.bought - self.sold

    @property
    def surplus(self) -> Decimal:
        """What it may still sell: above its own target after what it sold (never < 0)."""
        return max(ZERO, self.measured - self.sold - self.target)

    @property
    def shortfall(self) -> Decimal:
        """What it may still buy: below its target after what it bought (never < 0)."""
        return max(ZERO, self.target - self.measured - self.bought)


def check_indicator_trade(
    seller: str, buyer: str, sp: IndicatorPosition, bp: IndicatorPosition, qty: Decimal
) -> list[Problem]:
    """A buyer below target buys at most its shortfall and at most the seller's surplus."""
    out = []
    if seller == buyer:
        out.append(Problem("buyer", "is the seller", "two different districts",
                           "name the buying district"))  # fmt: skip
    if sp.surplus <= 0:
        out.append(Problem(f"seller {seller}", f"is not above its target (measured {sp.measured}, "
                           f"target {sp.target}, sold {sp.sold})", "a district above its target",
                           "only districts above their own target may sell"))  # fmt: skip
    elif qty > sp.surplus:
        out.append(Problem("quantity", f"{qty} exceeds seller {seller}'s surplus {sp.surplus}",
                           f"at most {sp.surplus}", "lower the quantity"))  # fmt: skip
    if bp.shortfall <= 0:
        out.append(Problem(f"buyer {buyer}", f"is not below its target (measured {bp.measured}, "
                           f"target {bp.target}, bought {bp.bought})", "a district below its target",
                           "only districts below their target may buy"))  # fmt: skip
    elif qty > bp.shortfall:
        out.append(Problem("quantity", f"{qty} exceeds buyer {buyer}'s shortfall {bp.shortfall}",
                           f"at most {bp.shortfall}", "buy only what the target still needs"))  # fmt: skip
    return out

"""Pure rules of the journal: commodities, typed accounts, balanced entries, the hash chain.

The journal is double-entry (beancount's design: typed accounts with lifetimes, immutable
entries whose postings balance per commodity, corrections by new entries; decision 0120).
A commodity is CNY or one tradable unit type (an instrument's tCO₂e, t of COD per year,
m³ of water per year, tce, 亩 of forest-area indicator …) with its number of decimal places;
amounts are :class:`~decimal.Decimal` with at most that many places, never floats.

An entry's body is canonical JSON (sorted keys, amounts as exact text) and its hash is
``sha256(prev_hash ‖ body)``: changing any entry, or removing one, breaks the chain at that
point (docs/decisions/0122-journal-hash-chain.md). No I/O here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Any

from ecovalue.errors import Problem
from ecovalue.platform.ledger.serials import Range

GENESIS_HASH = "0" * 64
ZERO = Decimal(0)


class AccountKind(StrEnum):
    """What an account is for; the holder's status of units follows from it."""

    holding = "holding"  # a participant's units, free to use (status issued / held)
    cash = "cash"  # a participant's money
    escrow = "escrow"  # reserved for open orders, bids and pending transfers
    frozen = "frozen"  # frozen by the exchange or a court (disputes)
    pledged = "pledged"  # pledged to a lender (质押)
    retirement = "retirement"  # retired units (注销), kept for the public record
    buffer = "buffer"  # a programme's risk buffer pool (non-permanence)
    cancelled = "cancelled"  # units cancelled by the administrator
    expired = "expired"  # units past their validity
    fee = "fee"  # the exchange's fee income
    clearing = "clearing"  # the exchange's clearing account (T+1 settlement in flight)
    issuance = "issuance"  # a programme's (or the settlement bank's) source of new units/money


# Only issuance accounts may go below zero: their balance is minus what they put into
# circulation. Every other account's balance is what it holds, so it can never be negative.
MAY_GO_NEGATIVE = frozenset({AccountKind.issuance})


class TxKind(StrEnum):
    """Typed journal transactions (every change of a unit's status is one of these)."""

    issue = "issue"  # new units from a programme's issuance account
    allocate = "allocate"  # government allocation (排污权, 水权 quotas), paid or free
    deposit = "deposit"  # money paid in through the settlement bank
    withdraw = "withdraw"  # money paid out through the settlement bank
    transfer = "transfer"  # units or money between holders outside a market
    escrow = "escrow"  # reserve cash / units for an order, bid or transfer
    release = "release"  # give back what an escrow no longer needs
    settle = "settle"  # delivery versus payment of a trade (with its fees)
    freeze = "freeze"
    unfreeze = "unfreeze"
    pledge = "pledge"
    unpledge = "unpledge"
    retire = "retire"
    cancel = "cancel"
    expire = "expire"
    buffer = "buffer"  # a share of an issuance set aside in the risk buffer
    reversal = "reversal"  # undoes an earlier transaction (linked by ``reverses``)


@dataclass(frozen=True)
class Commodity:
    """A commodity of the journal: code, unit and decimal places; serial ones count units."""

    code: str
    unit: str
    places: int
    serial: bool = False
    name_zh: str = ""
    name_en: str = ""

    @cached_property
    def quantum(self) -> Decimal:
        """The smallest amount: 10^-places (one serial of a serial commodity)."""
        return Decimal(1).scaleb(-self.places)

    def serials_of(self, amount: Decimal) -> int:
        """How many serials ``amount`` is (amount / quantum, exact)."""
        return int(abs(amount).scaleb(self.places))


CNY = Commodity("CNY", "元", 2, False, "人民币", "Chinese yuan")


@dataclass(frozen=True)
class UnitType:
    """A physical unit units are counted in, with the decimal places commonly used."""

    code: str
    name_zh: str
    name_en: str
    places: int
    source: str


# Decimal places per unit type: the default an instrument of that unit starts from (each
# instrument stores its own). Places that no published rule gives are marked assumed.
UNIT_TYPES: Mapping[str, UnitType] = {
    u.code: u
    for u in (
        UnitType("tCO2e", "吨二氧化碳当量", "tonne CO₂e", 0,
                 "湖北碳排放权交易中心: each traded object is 1 tCO₂e with an independent code "
                 "[S90]; national CEA quantity step 1 t [S93]"),
        UnitType("t_COD_a", "吨化学需氧量/年", "t COD per year", 3,
                 "咸宁 排污权 session volumes to 0.001 t (133.252 t COD) [tanger168.cn, mirror]"),
        UnitType("t_NH3N_a", "吨氨氮/年", "t NH₃-N per year", 3, "as t_COD_a (31.97 t NH₃-N)"),
        UnitType("t_SO2_a", "吨二氧化硫/年", "t SO₂ per year", 3, "as t_COD_a (57.67 t SO₂)"),
        UnitType("t_NOx_a", "吨氮氧化物/年", "t NOₓ per year", 3, "as t_COD_a (39.82 t NOₓ)"),
        UnitType("m3_a", "立方米/年", "m³ of water per year", 0,
                 "assumed — set your own (水权 volumes are published in m³; no step found)"),
        UnitType("tce", "吨标准煤", "tonne of coal equivalent", 0,
                 "assumed — set your own (no Hubei 用能权 rule found)"),
        UnitType("mu", "亩", "mu of indicator area", 0,
                 "Chongqing forest-area deals are in whole 亩 (15,000; 11,190) [xsdnews.net, "
                 "m.tmgczl.com mirrors]"),
        UnitType("m2", "平方米", "m² of indicator area", 0,
                 "assumed — set your own (绿化增量 rules: NOT FOUND)"),
        UnitType("section", "断面", "assessment section meeting its target", 0,
                 "assumed — set your own (清水增量 rules: NOT FOUND)"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Account:
    """An account of the journal: key, kind, owner and its lifetime."""

    key: str
    kind: AccountKind
    owner: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None = None
    commodity: str | None = None  # None: any commodity


@dataclass(frozen=True)
class Posting:
    """One leg of an entry: ``amount`` of ``commodity`` into (+) or out of (−) ``account``.

    For a serial commodity, ``serials`` names the ranges moved. A debit may leave it empty:
    the journal then takes the account's lowest serials (FIFO) and records which. An
    issuance account's debit must name its (new) serials.
    """

    account: str
    commodity: str
    amount: Decimal
    serials: tuple[Range, ...] = ()


@dataclass(frozen=True)
class Entry:
    """A transaction to post: its kind, postings, time, memo, link to what it reverses, meta."""

    kind: TxKind
    postings: tuple[Posting, ...]
    at: dt.datetime
    memo: str = ""
    reverses: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Posted:
    """A posted transaction: the entry as resolved (every serial named), its place and hash."""

    seq: int
    entry: Entry
    body: str
    prev_hash: str
    hash: str


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def amount_text(amount: Decimal) -> str:
    """Exact text of an amount (no exponent, the places it was given with)."""
    return format(amount, "f")


@lru_cache(maxsize=256)
def iso(at: dt.datetime) -> str:
    """UTC time as ISO 8601 text with microseconds (hashes identically on every backend)."""
    if at.tzinfo is None:
        raise ValueError(f"time {at} has no time zone; journal times are UTC")
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_body(seq: int, entry: Entry) -> str:
    """The canonical JSON of a resolved entry: what its hash covers."""
    return canonical_json(
        {
            "seq": seq,
            "kind": entry.kind.value,
            "at": iso(entry.at),
            "memo": entry.memo,
            "reverses": entry.reverses,
            "meta": dict(entry.meta),
            "postings": [
                [p.account, p.commodity, amount_text(p.amount), [list(r) for r in p.serials]]
                for p in entry.postings
            ],
        }
    )


def chain_hash(prev_hash: str, body: str) -> str:
    """sha256 of the previous hash followed by the body (hex)."""
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def entry_from_body(body: str) -> tuple[int, Entry]:
    """(seq, entry) parsed back from a body; raises ValueError/KeyError on a malformed one."""
    raw = json.loads(body)
    postings = tuple(
        Posting(a, c, Decimal(x), tuple((int(s), int(e)) for s, e in r))
        for a, c, x, r in raw["postings"]
    )
    at = dt.datetime.fromisoformat(raw["at"])
    entry = Entry(TxKind(raw["kind"]), postings, at, raw["memo"], raw["reverses"], raw["meta"])
    return int(raw["seq"]), entry


def check_amounts(entry: Entry, commodities: Mapping[str, Commodity]) -> list[Problem]:
    """Every posting names a known commodity, is non-zero and has no more places than it allows."""
    problems = []
    for i, p in enumerate(entry.postings):
        where = f"posting {i + 1} ({p.account}, {p.commodity})"
        c = commodities.get(p.commodity)
        if c is None:
            problems.append(
                Problem(
                    where,
                    f"commodity '{p.commodity}' is unknown",
                    "a registered commodity",
                    "register the commodity (instrument) first",
                )
            )
            continue
        if not isinstance(p.amount, Decimal) or not p.amount.is_finite():
            problems.append(
                Problem(
                    where,
                    f"amount {p.amount!r} is not a finite Decimal",
                    "a Decimal amount",
                    "pass Decimal('12.50'), never a float",
                )
            )
            continue
        if p.amount == 0:
            problems.append(
                Problem(where, "amount is zero", "a non-zero amount", "leave the posting out")
            )
        elif p.amount != p.amount.quantize(c.quantum):
            problems.append(
                Problem(
                    where,
                    f"amount {p.amount} has more than {c.places} decimal places",
                    f"a multiple of {c.quantum} {c.unit}",
                    f"round to {c.places} places before posting",
                )
            )
    return problems


def check_balanced(postings: Sequence[Posting]) -> list[Problem]:
    """Each commodity's postings sum to zero (double entry)."""
    sums: dict[str, Decimal] = {}
    for p in postings:
        sums[p.commodity] = sums.get(p.commodity, ZERO) + p.amount
    return [
        Problem(
            f"commodity {c}",
            f"postings sum to {s}, not 0",
            "debits equal credits",
            "add the missing counter-posting",
        )
        for c, s in sorted(sums.items())
        if s != 0
    ]


def reversing(original: Posted, at: dt.datetime, memo: str) -> Entry:
    """The entry that undoes ``original``: every posting negated, serials given back.

    Debits of the reversal are the original's credits with the serials they received, in the
    original order, so the serials stream back to the accounts they came from.
    """
    postings = tuple(
        Posting(p.account, p.commodity, -p.amount, p.serials if p.amount > 0 else ())
        for p in original.entry.postings
    )
    return Entry(
        TxKind.reversal,
        postings,
        at,
        memo,
        original.seq,
        {"reverses_kind": original.entry.kind.value},
    )

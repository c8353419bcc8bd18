"""The exchange's journal accounts: one naming rule for every account it posts to.

A participant ``p`` has ``P:p:cash`` (CNY), ``P:p:hold`` (units free to use), ``P:p:frozen``,
``P:p:pledged``, ``P:p:retired`` and an escrow account per instrument and venue
(``P:p:escrow:INSTR:book|bid|xfer``), so that each venue can assert that what its escrow
holds equals its own open commitments. The exchange has its fee, clearing, settlement-bank,
cancellation and expiry accounts; each programme an issuance account and a risk buffer.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from ecovalue.platform.ledger.rules import AccountKind

EXCHANGE = "exchange"
FEE = "X:fee"
CLEARING = "X:clearing"
BANK = "X:bank"  # the settlement bank: money paid in and out (an issuance account of CNY)
CANCELLED = "X:cancelled"
EXPIRED = "X:expired"

EXCHANGE_ACCOUNTS: tuple[tuple[str, AccountKind, str], ...] = (
    (FEE, AccountKind.fee, EXCHANGE),
    (CLEARING, AccountKind.clearing, EXCHANGE),
    (BANK, AccountKind.issuance, EXCHANGE),
    (CANCELLED, AccountKind.cancelled, EXCHANGE),
    (EXPIRED, AccountKind.expired, EXCHANGE),
)


class Venue(StrEnum):
    book = "book"  # the order book (continuous and call auction)
    bid = "bid"  # electronic bidding
    xfer = "xfer"  # negotiated transfers


def cash(p: str) -> str:
    return f"P:{p}:cash"


def hold(p: str) -> str:
    return f"P:{p}:hold"


def frozen(p: str) -> str:
    return f"P:{p}:frozen"


def pledged(p: str) -> str:
    return f"P:{p}:pledged"


def retired(p: str) -> str:
    return f"P:{p}:retired"


def escrow(p: str, instrument: str, venue: Venue) -> str:
    return f"P:{p}:escrow:{instrument}:{venue.value}"


def issuance(programme: str) -> str:
    return f"G:{programme}:issuance"


def buffer(programme: str) -> str:
    return f"G:{programme}:buffer"


def participant_accounts(p: str) -> Iterator[tuple[str, AccountKind, str]]:
    """The fixed accounts every participant has (escrows are opened when first needed)."""
    yield cash(p), AccountKind.cash, p
    yield hold(p), AccountKind.holding, p
    yield frozen(p), AccountKind.frozen, p
    yield pledged(p), AccountKind.pledged, p
    yield retired(p), AccountKind.retirement, p


def escrow_account(p: str, instrument: str, venue: Venue) -> tuple[str, AccountKind, str]:
    return escrow(p, instrument, venue), AccountKind.escrow, p


def programme_accounts(programme: str) -> Iterator[tuple[str, AccountKind, str]]:
    yield issuance(programme), AccountKind.issuance, programme
    yield buffer(programme), AccountKind.buffer, programme


def owner_of(key: str) -> str | None:
    """The participant code of a participant account key (None for exchange/programme ones)."""
    parts = key.split(":")
    return parts[1] if len(parts) >= 3 and parts[0] == "P" else None

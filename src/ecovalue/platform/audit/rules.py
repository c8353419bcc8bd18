"""Pure functions of the audit record: canonical values, entry MACs, chain verification.

An entry's ``hash`` is HMAC-SHA256 (RFC 2104) under the key named by its ``key_id`` of the
canonical JSON of {seq, at, actor, action, entity, entity_id, payload, prev_hash, key_id};
``prev_hash`` is the previous entry's ``hash`` (64 zeros for the first). Without the key no
one can write an entry, or rewrite one and every later one, that verifies. Entries written
before the chain was keyed (``key_id`` NULL, migration 0003) carry plain SHA-256 of the
same JSON without ``key_id``; they are accepted only as a prefix that a keyed entry or a
signed checkpoint vouches for (docs/decisions/0104-keyed-audit-chain.md, docs/audit.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Column, Date, DateTime
from sqlalchemy.types import TypeEngine

from ecovalue.db.types import ExactDecimal, Geometry
from ecovalue.errors import Problem
from ecovalue.platform.audit.keys import Keyring

GENESIS_HASH = "0" * 64
# Entries that are not rows of a table: the switch from one key to the next.
KEYS_ENTITY = "audit_keys"
ROTATE_ACTION = "rotate_key"
FIX_RESTORE = (
    "restore the database from a backup taken before the change; the record must never be edited"
)


def jsonable(value: Any) -> Any:
    """Turn a value into a JSON value that hashes the same on every backend."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime):
        return _utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, BaseGeometry):
        return {"ewkb": shapely.to_wkb(value, hex=True, include_srid=True)}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes for timezone-aware columns; the platform stores UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def stored_form(column_type: TypeEngine[Any], value: Any) -> Any:
    """The JSON value of a column value as the database keeps it.

    Decimals are quantized to the column's scale (ExactDecimal rounds half-even on the way
    in), datetimes are UTC, geometries are hex EWKB with their SRID: the after-image written
    at flush equals what reading the row back gives, on SQLite and PostgreSQL alike.
    """
    if value is None:
        return None
    if isinstance(column_type, ExactDecimal):
        quantum = Decimal(1).scaleb(-column_type.scale)
        return str(Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN))
    if isinstance(column_type, Geometry) and isinstance(value, BaseGeometry):
        if column_type.srid is not None and shapely.get_srid(value) == 0:
            value = shapely.set_srid(value, column_type.srid)
    return jsonable(value)


def same_value(column: Column[Any], recorded: Any, stored: Any) -> bool:
    """True when a recorded after-image value and a stored column value are the same.

    Also reads the forms of entries written before migration 0003: decimals not yet
    quantized, and geometries kept only as ``{"geometry_sha256": sha256(WKB without SRID)}``.
    """
    if recorded == stored:
        return True
    if recorded is None or stored is None:
        return False
    ctype = column.type
    if isinstance(ctype, ExactDecimal):
        try:
            return stored_form(ctype, Decimal(str(recorded))) == stored
        except ArithmeticError:
            return False
    if isinstance(ctype, Geometry) and isinstance(recorded, Mapping):
        if "geometry_sha256" in recorded and isinstance(stored, Mapping):
            wkb: bytes = shapely.to_wkb(shapely.from_wkb(stored["ewkb"]), include_srid=False)  # type: ignore[assignment]
            return bool(recorded["geometry_sha256"] == hashlib.sha256(wkb).hexdigest())
        return False
    if isinstance(ctype, DateTime | Date) and isinstance(recorded, str):
        try:
            parsed = dt.datetime.fromisoformat(recorded)
        except ValueError:
            return False
        if isinstance(ctype, Date):
            return bool(parsed.date().isoformat() == stored)
        return bool(_utc(parsed).isoformat() == stored)
    return False


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


ENTRY_FIELDS = ("seq", "at", "actor", "action", "entity", "entity_id", "payload", "prev_hash")


def entry_body(entry: Mapping[str, Any]) -> str:
    """The canonical text an entry's MAC (or, unkeyed, its SHA-256) is computed over."""
    body = {name: entry[name] for name in ENTRY_FIELDS}
    if entry.get("key_id") is not None:
        body["key_id"] = entry["key_id"]
    return canonical_json(body)


def entry_hash(entry: Mapping[str, Any], keyring: Keyring | None) -> str | None:
    """HMAC-SHA256 of the entry under its key; plain SHA-256 when unkeyed; None without the key."""
    body = entry_body(entry)
    key_id = entry.get("key_id")
    if key_id is None:
        return hashlib.sha256(body.encode("utf-8")).hexdigest()
    if keyring is None or keyring.get(key_id) is None:
        return None
    return keyring.mac(key_id, body)


def rotation_endorsement(keyring: Keyring, old_key_id: str, new_key_id: str, prev: str) -> str:
    """The old key's MAC over the switch to the new key, chained to the entry before it."""
    body = canonical_json({"rotate_to": new_key_id, "from": old_key_id, "prev_hash": prev})
    return keyring.mac(old_key_id, body)


@dataclass
class ChainSummary:
    """What a walk over the chain found besides problems."""

    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    key_id: str | None = None  # the key that signs the newest entries
    last_unkeyed_seq: int = 0
    entries: int = 0
    hashes: dict[int, str] = field(default_factory=dict)  # seq -> hash for the seqs asked for


class _Walk:
    """State of one pass over the chain (kept small: entries are streamed)."""

    def __init__(self, keyring: Keyring | None, wanted: set[int]) -> None:
        self.keyring = keyring
        self.wanted = wanted
        self.s = ChainSummary()
        self.expected_seq = 1
        self.problems: list[Problem] = []

    def _add(self, where: str, what: str, expected: str, fix: str = FIX_RESTORE) -> None:
        self.problems.append(Problem(where, what, expected, fix))

    def step(self, e: Mapping[str, Any]) -> None:
        where, s = f"audit_log seq {e['seq']}", self.s
        if e["seq"] != self.expected_seq:
            self._add(
                where,
                f"entries {self.expected_seq}..{e['seq'] - 1} are missing",
                f"seq {self.expected_seq}",
            )
        if e["prev_hash"] != s.last_hash:
            self._add(where, "prev_hash does not match the previous entry's hash", s.last_hash)
        self._check_mac(where, e)
        if e.get("key_id") is not None:
            self._check_key_switch(where, e)
        elif s.key_id is not None:
            self._add(
                where,
                "carries no key id although keyed entries precede it (written "
                "without the audit key: forged or a downgrade)",
                f"an entry signed with key {s.key_id}",
            )
        else:
            s.last_unkeyed_seq = e["seq"]
        if e["seq"] in self.wanted:
            s.hashes[e["seq"]] = e["hash"]
        s.entries += 1
        self.expected_seq, s.last_seq, s.last_hash = e["seq"] + 1, e["seq"], e["hash"]

    def _check_mac(self, where: str, e: Mapping[str, Any]) -> None:
        recomputed = entry_hash(e, self.keyring)
        if recomputed is None:
            self._add(
                where,
                f"is signed with key '{e['key_id']}', which the audit key file does not hold",
                "every key the chain has used, kept in the key file",
                "restore the key file from its backup; without the key the entry cannot be verified",
            )
        elif not hmac.compare_digest(recomputed, e["hash"]):
            kind = "MAC" if e.get("key_id") else "SHA-256"
            self._add(
                where,
                f"content was changed after it was written ({kind} does not match)",
                recomputed,
            )

    def _check_key_switch(self, where: str, e: Mapping[str, Any]) -> None:
        s, kid = self.s, e["key_id"]
        if s.key_id is None or kid == s.key_id:
            s.key_id = kid
            return
        ok = False
        if e["entity"] == KEYS_ENTITY and e["action"] == ROTATE_ACTION and self.keyring is not None:
            try:
                claim = json.loads(e["payload"])
                old = self.keyring.get(s.key_id)
                ok = (
                    old is not None
                    and claim.get("from") == s.key_id
                    and claim.get("to") == kid
                    and hmac.compare_digest(
                        str(claim.get("endorsement")),
                        rotation_endorsement(self.keyring, s.key_id, kid, e["prev_hash"]),
                    )
                )
            except (ValueError, AttributeError):
                ok = False
        if not ok:
            self._add(
                where,
                f"is signed with key '{kid}' but the chain's key is '{s.key_id}' and "
                "no rotation endorsed by that key is recorded",
                f"key '{s.key_id}' or a recorded rotation",
            )
        s.key_id = kid


def verify_chain(
    entries: Iterable[Mapping[str, Any]],
    head: Mapping[str, Any] | None,
    keyring: Keyring | None,
    wanted: Iterable[int] = (),
) -> tuple[list[Problem], ChainSummary]:
    """Every break in the chain: edited or forged entries, gaps, a cut tail, key misuse.

    ``head`` is the ``audit_head`` row (last_seq, last_hash, last_key_id) or None;
    ``wanted`` are sequence numbers whose hashes the summary keeps (for checkpoints).
    """
    walk = _Walk(keyring, set(wanted))
    for e in entries:
        walk.step(e)
    s = walk.s
    if head is not None and (head["last_seq"] != s.last_seq or head["last_hash"] != s.last_hash):
        walk._add(
            "audit_head",
            f"head names entry {head['last_seq']} but the log ends at entry "
            f"{s.last_seq} (entries deleted or head edited)",
            f"seq {s.last_seq}, hash {s.last_hash}",
        )
    if head is None and s.entries:
        walk._add(
            "audit_head",
            f"the head row is missing although the log has {s.entries} entries",
            f"seq {s.last_seq}, hash {s.last_hash}",
        )
    if keyring is not None and s.key_id is not None and s.key_id != keyring.current_id:
        walk._add(
            "audit key file",
            f"the current key '{keyring.current_id}' was never put in use: "
            f"the chain's newest entries are signed with '{s.key_id}' (the rotation entry is "
            "missing: the chain was cut or rewritten with an older key)",
            f"entries signed with '{keyring.current_id}' after a recorded rotation",
        )
    return walk.problems, s

"""Pure functions of the audit chain: canonical JSON, entry hashes, chain verification.

hash_n = sha256(canonical JSON of {seq, at, actor, action, entity, entity_id, payload,
prev_hash = hash_(n-1)}); the first entry's prev_hash is 64 zeros. Editing any field of any
entry changes its hash; deleting an entry breaks the next prev_hash or the head
(docs/decisions/0103-audit-hash-chain.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from ecovalue.errors import Problem

GENESIS_HASH = "0" * 64


def jsonable(value: Any) -> Any:
    """Turn a column value into a JSON value that hashes the same on every backend."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral_value() else str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, BaseGeometry):
        # The geometry itself is stored in its table; the log keeps a fingerprint of it.
        wkb = shapely.to_wkb(value, hex=False, include_srid=False)
        return {"geometry_sha256": hashlib.sha256(wkb).hexdigest()}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: one text per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    seq: int,
    at: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    payload: str,
    prev_hash: str,
) -> str:
    """The sha256 hex digest of an entry chained to ``prev_hash``."""
    body = canonical_json(
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def verify_chain(
    entries: Iterable[Mapping[str, Any]], head_seq: int | None, head_hash: str | None
) -> list[Problem]:
    """Every break in the chain: edited entries, gaps (deleted entries), a cut tail."""
    problems: list[Problem] = []
    expected_seq, prev = 1, GENESIS_HASH
    fix = "restore the audit_log table from a backup; the log must never be edited"
    for e in entries:
        where = f"audit_log seq {e['seq']}"
        if e["seq"] != expected_seq:
            problems.append(
                Problem(
                    where,
                    f"entries {expected_seq}..{e['seq'] - 1} are missing",
                    f"seq {expected_seq}",
                    fix,
                )
            )
        if e["prev_hash"] != prev:
            problems.append(
                Problem(where, "prev_hash does not match the previous entry's hash", prev, fix)
            )
        recomputed = entry_hash(
            e["seq"],
            e["at"],
            e["actor"],
            e["action"],
            e["entity"],
            e["entity_id"],
            e["payload"],
            e["prev_hash"],
        )
        if recomputed != e["hash"]:
            problems.append(
                Problem(
                    where,
                    "content was changed after it was written (hash does not match)",
                    recomputed,
                    fix,
                )
            )
        expected_seq, prev = e["seq"] + 1, e["hash"]
    last_seq = expected_seq - 1
    if head_seq is not None and (head_seq != last_seq or head_hash != prev):
        problems.append(
            Problem(
                "audit_head",
                f"head names entry {head_seq} but the log ends at "
                f"entry {last_seq} (entries deleted or head edited)",
                f"seq {last_seq}, hash {prev}",
                fix,
            )
        )
    return problems

"""The checkpoint log: the chain's head anchored outside the database.

Each line is one signed checkpoint, canonical JSON::

    {"type": "ecovalue-checkpoint/1", "seq": 120, "hash": "<entry 120's hash>",
     "key_id": "<key>", "at": "<UTC ISO 8601>", "reason": "publication 7", "mac": "<hex>"}

``mac`` is HMAC-SHA256 under ``key_id`` of the line without ``mac``. A checkpoint says
"the record had at least ``seq`` entries and entry ``seq`` had this hash": a rollback
below it, or a rewrite of any entry up to it, contradicts the line. Lines are written on
every publication, by ``ecovalue audit checkpoint`` (daily from cron), at every clean
``verify`` and at key rotation; the file is only ever appended to. Copies kept elsewhere
(printed with published results, mailed by cron) are checked the same way (``verify
--anchor``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ecovalue.errors import Problem
from ecovalue.platform.audit.keys import Keyring
from ecovalue.platform.audit.rules import canonical_json

CHECKPOINT_TYPE = "ecovalue-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement of the chain's head."""

    seq: int
    hash: str
    key_id: str
    at: str
    reason: str
    mac: str
    type: str = CHECKPOINT_TYPE

    def body(self) -> str:
        """The canonical text the MAC is computed over (everything but ``mac``)."""
        data = asdict(self)
        del data["mac"]
        return canonical_json(data)

    def line(self) -> str:
        """The checkpoint as one line of the log."""
        return canonical_json(asdict(self))

    def __rich__(self) -> str:
        return (
            f"checkpoint: entry [bold]{self.seq}[/bold] hash {self.hash} "
            f"(key {self.key_id}, {self.at}, {self.reason})"
        )


def sign(keyring: Keyring, seq: int, head_hash: str, reason: str) -> Checkpoint:
    """A checkpoint of (seq, hash) signed with the current key, dated now."""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    unsigned = Checkpoint(seq, head_hash, keyring.current_id, at, reason[:200], mac="")
    return Checkpoint(
        **{**asdict(unsigned), "mac": keyring.mac(keyring.current_id, unsigned.body())}
    )


def append(path: Path, checkpoint: Checkpoint) -> None:
    """Append one line with a single O_APPEND write (writers in several processes interleave whole lines)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (checkpoint.line() + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def parse(text: str, where: str) -> Checkpoint:
    """One checkpoint from its JSON text; raises ValueError naming what is wrong."""
    data = json.loads(text)
    if not isinstance(data, Mapping) or data.get("type") != CHECKPOINT_TYPE:
        raise ValueError(f"{where} is not an {CHECKPOINT_TYPE} line")
    try:
        return Checkpoint(
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            key_id=str(data["key_id"]),
            at=str(data["at"]),
            reason=str(data["reason"]),
            mac=str(data["mac"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where} lacks or misspells field {exc}") from exc


def read(path: Path) -> tuple[list[tuple[str, Checkpoint]], list[Problem]]:
    """Every checkpoint of the log as (where, checkpoint), and the lines that cannot be read."""
    if not path.exists():
        return [], []
    found: list[tuple[str, Checkpoint]] = []
    problems: list[Problem] = []
    with path.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path} line {number}"
            try:
                found.append((where, parse(raw, where)))
            except ValueError as exc:
                problems.append(
                    Problem(
                        where,
                        f"cannot be read as a checkpoint ({exc})",
                        "one signed checkpoint per line",
                        "the log is append-only: restore it from a copy",
                    )
                )
    return found, problems


def covering(path: Path, seq: int) -> Checkpoint | None:
    """The earliest checkpoint (by entry) that covers entry ``seq``, or None."""
    found, _ = read(path)
    candidates = [c for _, c in found if c.seq >= seq]
    return min(candidates, key=lambda c: (c.seq, c.at), default=None)


def check(
    checkpoints: Iterable[tuple[str, Checkpoint]],
    keyring: Keyring | None,
    last_seq: int,
    hashes: Mapping[int, str],
) -> list[Problem]:
    """Each checkpoint against the chain: signed by a key of ours, its entry present and equal."""
    problems: list[Problem] = []
    fix = "restore the database from a backup that matches the checkpoint; find who changed it"
    for where, cp in checkpoints:
        if keyring is not None:
            known = keyring.get(cp.key_id) is not None
            if not known or not hmac.compare_digest(keyring.mac(cp.key_id, cp.body()), cp.mac):
                problems.append(
                    Problem(
                        where,
                        f"checkpoint of entry {cp.seq} is not signed by a key of this "
                        "installation (forged, edited or from another installation)",
                        "a MAC under a key of the audit key file",
                        "remove lines that do not belong to this database's log",
                    )
                )
                continue
        if cp.seq > last_seq:
            problems.append(
                Problem(
                    where,
                    f"checkpoint of {cp.at} ({cp.reason}) says the record had {cp.seq} "
                    f"entries, but it now ends at entry {last_seq}: entries "
                    f"{last_seq + 1}..{cp.seq} were removed (rollback or truncation)",
                    f"at least {cp.seq} entries",
                    fix,
                )
            )
        elif hashes.get(cp.seq) != cp.hash:
            problems.append(
                Problem(
                    where,
                    f"entry {cp.seq} no longer has the hash checkpointed on {cp.at} "
                    f"({cp.reason}): the record up to it was rewritten",
                    f"hash {cp.hash}",
                    fix,
                )
            )
    return problems


def as_dict(checkpoint: Checkpoint) -> dict[str, Any]:
    """The checkpoint as a JSON object (for API answers)."""
    return asdict(checkpoint)

"""The audit chain's HMAC keys, kept in a file outside the database.

A database user who cannot read this file cannot compute a valid entry or checkpoint MAC,
so they cannot rewrite the record without the rewrite showing (docs/audit.md). The file is
JSON, mode 0600::

    {"format": "ecovalue-audit-keys/1", "current": "<key id>",
     "keys": [{"id": "<key id>", "secret": "<64 hex digits>", "created_at": "<ISO 8601>"}]}

Every key ever used stays in the file (old entries are verified with the key that signed
them); ``current`` signs new entries. Rotation adds a key and makes it current; the chain
records the switch in an entry endorsed by the previous key (docs/decisions/0104-keyed-
audit-chain.md). Development and test installations create the file on first use;
production refuses to run without it (``ecovalue audit init-key`` creates it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from ecovalue.errors import DataFileError

KEY_FILE_FORMAT = "ecovalue-audit-keys/1"
SECRET_BYTES = 32  # HMAC-SHA256 keys as long as the hash output (RFC 2104 §3)


class AuditKeyError(DataFileError):
    """The audit key file is missing, unreadable, too widely readable or malformed."""


@dataclass(frozen=True)
class AuditKey:
    """One HMAC-SHA256 key with its id and creation time."""

    id: str
    secret: bytes
    created_at: str


@dataclass(frozen=True)
class Keyring:
    """Every audit key of an installation and the id of the one that signs new entries."""

    current_id: str
    keys: tuple[AuditKey, ...]

    def get(self, key_id: str) -> AuditKey | None:
        """The key called ``key_id``, or None when the file does not hold it."""
        return next((k for k in self.keys if k.id == key_id), None)

    @property
    def current(self) -> AuditKey:
        key = self.get(self.current_id)
        assert key is not None  # checked when the file is parsed
        return key

    def mac(self, key_id: str, body: str) -> str:
        """HMAC-SHA256 (RFC 2104) of ``body`` with key ``key_id``, as hex."""
        key = self.get(key_id)
        if key is None:
            raise AuditKeyError(f"the audit key file holds no key '{key_id}'")
        return hmac.new(key.secret, body.encode("utf-8"), hashlib.sha256).hexdigest()

    def with_new_key(self) -> Keyring:
        """This keyring plus a fresh key that becomes current."""
        key = new_key()
        return Keyring(key.id, (*self.keys, key))


def new_key() -> AuditKey:
    """A random key; its id names the day it was made and 8 random hex digits."""
    now = dt.datetime.now(dt.UTC)
    return AuditKey(
        f"k{now:%Y%m%d}-{secrets.token_hex(4)}",
        secrets.token_bytes(SECRET_BYTES),
        now.isoformat(timespec="seconds"),
    )


def _dump(ring: Keyring) -> str:
    keys = [{"id": k.id, "secret": k.secret.hex(), "created_at": k.created_at} for k in ring.keys]
    return json.dumps(
        {"format": KEY_FILE_FORMAT, "current": ring.current_id, "keys": keys}, indent=1
    )


def _parse(path: Path, text: str) -> Keyring:
    fix = f"restore {path} from your backup of the audit keys"
    try:
        data = json.loads(text)
        keys = tuple(
            AuditKey(str(k["id"]), bytes.fromhex(k["secret"]), str(k["created_at"]))
            for k in data["keys"]
        )
        ring = Keyring(str(data["current"]), keys)
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditKeyError(
            f"audit key file {path} is not a valid key file ({exc}); {fix}"
        ) from exc
    if data.get("format") != KEY_FILE_FORMAT:
        raise AuditKeyError(
            f"audit key file {path} has format {data.get('format')!r}, expected "
            f"{KEY_FILE_FORMAT!r}; {fix}"
        )
    if ring.get(ring.current_id) is None or any(len(k.secret) < 16 for k in keys):
        raise AuditKeyError(
            f"audit key file {path} names current key '{ring.current_id}' it does not hold, "
            f"or holds a key shorter than 16 bytes; {fix}"
        )
    return ring


def _write_new_file(path: Path, text: str, replace: bool) -> None:
    """Write ``text`` to ``path`` with mode 0600 atomically; without ``replace``, never overwrite."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails when another process created the file first
    finally:
        tmp.unlink(missing_ok=True)


class KeyFile:
    """The key file of one installation, re-read whenever it changes on disk.

    ``may_create`` (development and test) makes a first key on first use; ``strict``
    (production) refuses a file that group or others may read.
    """

    def __init__(self, path: Path, may_create: bool, strict: bool) -> None:
        self.path = Path(path).expanduser()
        self.may_create = may_create
        self.strict = strict
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], Keyring] | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def load(self, create: bool | None = None) -> Keyring:
        """The keyring; creates the first key when allowed and the file is missing."""
        create = self.may_create if create is None else create
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                if not create:
                    raise AuditKeyError(
                        f"audit key file {self.path} does not exist; create it with "
                        "`ecovalue audit init-key` (keep a backup: without it the record "
                        "cannot be verified), or set ECOVALUE_AUDIT_KEY_FILE"
                    ) from None
                try:
                    _write_new_file(self.path, _dump(Keyring("", ()).with_new_key()), False)
                except FileExistsError:
                    pass
                st = self.path.stat()
            signature = (st.st_ino, st.st_size, st.st_mtime_ns)
            if self._cached and self._cached[0] == signature:
                return self._cached[1]
            if self.strict and os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise AuditKeyError(
                    f"audit key file {self.path} may be read by other users "
                    f"(mode {stat.S_IMODE(st.st_mode):o}); run `chmod 600 {self.path}`"
                )
            ring = _parse(self.path, self.path.read_text(encoding="utf-8"))
            self._cached = (signature, ring)
            return ring

    def create(self) -> Keyring:
        """Write a new key file with one key; refuses to overwrite an existing one."""
        ring = Keyring("", ()).with_new_key()
        try:
            _write_new_file(self.path, _dump(ring), False)
        except FileExistsError:
            raise AuditKeyError(
                f"audit key file {self.path} already exists; it is never overwritten "
                "(use `ecovalue audit rotate-key` to start a new key)"
            ) from None
        return ring

    def rotate(self) -> Keyring:
        """Add a new key, make it current and write the file (old keys are kept)."""
        ring = self.load(create=False).with_new_key()
        with self._lock:
            _write_new_file(self.path, _dump(ring), True)
            self._cached = None
        return ring

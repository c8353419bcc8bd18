"""The one settings object of ecovalue, read from ``ECOVALUE_*`` environment variables.

The secret key signs the API's tokens: anyone who knows or guesses it can forge any user's
token. So ``Settings`` refuses, in production, a secret that is missing, short or
guessable (:func:`secret_weakness`: fewer than 32 characters, under 128 bits by a character
entropy estimate, a repeated block, or a word of a template such as "change" or
"secret"). In development mode (``ECOVALUE_ENV=development``, or ``ecovalue serve --dev``)
a missing secret is generated once per installation and kept in the data folder
(``secret_key``, readable by its owner only), so tokens survive restarts and nothing needs
setting up for a first trial. Errors are one line each (:class:`SettingsError`).
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Words of templates and examples; a secret containing one was typed by a person.
TEMPLATE_WORDS = ("change", "secret", "password", "example", "default", "production",
                  "development", "ecovalue", "sample", "demo", "test", "dummy", "admin")  # fmt: skip
MIN_SECRET_CHARS = 32
MIN_SECRET_BITS = 128
SECRET_FILE = "secret_key"
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class SettingsError(ValueError):
    """A setting is missing or wrong; the message is one line saying which and how to fix it."""


def default_data_dir() -> Path:
    """Where the embedded SQLite database lives: ``$XDG_DATA_HOME/ecovalue`` or ~/.local/share."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ecovalue"


def default_database_url() -> str:
    """SQLAlchemy URL of the embedded default database (a SQLite file)."""
    return f"sqlite:///{default_data_dir() / 'ecovalue.db'}"


def secret_bits(value: str) -> float:
    """Entropy estimate in bits: the Shannon entropy of the secret's characters × its length.

    An upper bound for text a person typed (``aaaa…`` has 0, ``change-me-in-production`` 87);
    a random ``secrets.token_urlsafe(32)`` has ≈ 200, ``secrets.token_hex(32)`` ≈ 240.
    """
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values()) * n if n else 0.0


def secret_weakness(value: str) -> str | None:
    """Why ``value`` is not a safe secret key (None when it is)."""
    if len(value) < MIN_SECRET_CHARS:
        return f"has {len(value)} characters; at least {MIN_SECRET_CHARS} are needed"
    if secret_bits(value) < MIN_SECRET_BITS:
        return (
            f"has ≈ {secret_bits(value):.0f} bits of entropy; at least {MIN_SECRET_BITS} are needed"
        )
    trigrams = [value[i : i + 3] for i in range(len(value) - 2)]
    if len(set(trigrams)) < 0.9 * len(trigrams):
        return "repeats a block of characters"
    lowered = value.lower()
    word = next((w for w in TEMPLATE_WORDS if w in lowered), None)
    if word:
        return f"contains the word '{word}' (a template's or a person's, not a random value)"
    return None


def installation_secret(folder: Path) -> str:
    """The per-installation development secret in ``folder``, generated on first use."""
    path = folder / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    folder.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value + "\n")
    return value


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``ECOVALUE_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ECOVALUE_", extra="ignore")

    env: Literal["development", "production", "test"] = "production"
    database_url: str = Field(default_factory=default_database_url)
    secret_key: SecretStr = SecretStr("")
    token_lifetime_minutes: int = Field(default=60, gt=0, le=24 * 60)
    # Rate limit on failed logins per (username, client address): assumed — user-settable.
    login_max_failures: int = Field(default=5, gt=0)
    login_window_seconds: int = Field(default=300, gt=0)
    # Failed logins per client address over all usernames (password spraying) and per
    # username over all addresses (a distributed attack; the owner's known addresses stay
    # open, docs/decisions/0107-login-limits.md). Assumed — user-settable.
    login_max_failures_per_address: int = Field(default=20, gt=0)
    login_max_failures_per_user: int = Field(default=20, gt=0)
    # Password checks running at once per server process (argon2 costs ~19 MiB and one core
    # each); further sign-ins wait up to login_queue_seconds, then get 429.
    login_concurrency: int = Field(default=1, gt=0, le=64)
    login_queue_seconds: float = Field(default=5.0, gt=0, le=60)
    # Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For is believed;
    # empty = believe no one. Comma-separated in the environment: "10.0.0.1,10.1.0.0/16".
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The audit chain's HMAC keys and its checkpoint log live outside the database
    # (docs/audit.md). Created on first use in development and test, required in production.
    audit_key_file: Path = Field(default_factory=lambda: default_data_dir() / "audit-keys.json")
    audit_checkpoint_file: Path = Field(
        default_factory=lambda: default_data_dir() / "audit-checkpoints.log"
    )
    # Smallest overlap (m²) between two parcels that counts as a conflict; shared edges and
    # digitising slivers below it are tolerated. Assumed — user-settable.
    parcel_overlap_tolerance_m2: float = Field(default=1.0, ge=0)
    # Web map: an XYZ raster tile URL for a base map under the data layers (e.g. an intranet
    # tile server, https://tiles.example/{z}/{x}/{y}.png) and its attribution. Empty = no
    # base map: the site needs nothing from the internet.
    web_basemap_url: str = ""
    web_basemap_attribution: str = ""
    # Largest request body: an observations CSV of ≈ 100 000 rows fits. Assumed — user-settable.
    max_request_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Folders that hold the datasets runs may use, separated by os.pathsep (':' on Linux);
    # default: <data folder>/datasets. A run names a dataset relative to one of them.
    dataset_roots: str = ""
    # Where jobs write their outputs (scenario maps, plot tables); default <data folder>/jobs.
    jobs_dir: str = ""
    # A worker renews its claim on a job every lease/3 s; a job whose lease ran out (its
    # worker died) is taken again, at most job_max_attempts times in all. Assumed — user-settable.
    job_lease_seconds: int = Field(default=60, ge=5)
    job_max_attempts: int = Field(default=2, ge=1)
    # How often an idle worker looks for a new job: a plot's GEP waits at most this long
    # before it starts (one indexed SELECT each time). Assumed — user-settable.
    job_poll_seconds: float = Field(default=0.25, gt=0, le=60)
    _secret_origin: str = PrivateAttr(default="environment")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"ECOVALUE_TRUSTED_PROXIES entry '{item}' is not an IP address or "
                    "network; expected e.g. 10.0.0.1 or 10.0.0.0/24"
                ) from exc
        return value

    @model_validator(mode="after")
    def _check_secret(self) -> Settings:
        value = self.secret_key.get_secret_value()
        if self.env == "development" and not value:
            self.secret_key = SecretStr(installation_secret(default_data_dir()))
            self._secret_origin = str(default_data_dir() / SECRET_FILE)
            return self
        if self.env == "test":
            if len(value) < 16:
                raise SettingsError("test settings need a secret_key of at least 16 characters")
            return self
        if self.env == "production":
            if not value:
                raise SettingsError(
                    "ECOVALUE_SECRET_KEY is not set: set it to a random value, e.g. "
                    f"`export ECOVALUE_SECRET_KEY=$({GENERATE})`, or try the platform locally "
                    "with `ecovalue serve --dev` (development mode)"
                )
            weakness = secret_weakness(value)
            if weakness:
                raise SettingsError(
                    f"ECOVALUE_SECRET_KEY {weakness}; anyone guessing it can forge tokens: "
                    f"set a random one, e.g. `export ECOVALUE_SECRET_KEY=$({GENERATE})`"
                )
        return self

    @property
    def secret_origin(self) -> str:
        """Where the secret key came from: 'environment' or the development secret's file."""
        return self._secret_origin

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    @property
    def roots(self) -> tuple[Path, ...]:
        """The dataset roots, resolved (symbolic links followed)."""
        raw = [p for p in self.dataset_roots.split(os.pathsep) if p.strip()]
        return tuple(Path(p).expanduser().resolve() for p in raw) or (
            (default_data_dir() / "datasets").resolve(),
        )

    @property
    def jobs_folder(self) -> Path:
        """Where job outputs are written."""
        return Path(self.jobs_dir).expanduser() if self.jobs_dir else default_data_dir() / "jobs"

    def as_environment(self) -> dict[str, str]:
        """These settings as ``ECOVALUE_*`` variables, for a child process (a job worker) that
        must run with exactly the same settings as its parent."""
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, list):
                value = ",".join(str(v) for v in value)
            env[f"ECOVALUE_{name.upper()}"] = str(value)
        return env


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and ``overrides``); :class:`SettingsError`, one line, if wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, SettingsError):
            raise cause from None
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise SettingsError(
            f"setting ECOVALUE_{where.upper()}: {first.get('msg')} (got {first.get('input')!r})"
        ) from None

"""The one settings object of ecovalue, read from ``ECOVALUE_*`` environment variables.

``Settings`` refuses to start outside development mode with an empty or well-known secret
key, because tokens signed with a public secret can be forged by anyone (the FastAPI
full-stack template habit). In development mode an empty secret is replaced by a random
one, so tokens simply stop working after a restart.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets that appear in examples and templates; accepting one would let anyone forge tokens.
KNOWN_DEFAULT_SECRETS = frozenset({"", "changethis", "change-me", "changeme", "secret", "dev"})


def default_data_dir() -> Path:
    """Where the embedded SQLite database lives: ``$XDG_DATA_HOME/ecovalue`` or ~/.local/share."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ecovalue"


def default_database_url() -> str:
    """SQLAlchemy URL of the embedded default database (a SQLite file)."""
    return f"sqlite:///{default_data_dir() / 'ecovalue.db'}"


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
    def _refuse_default_secret(self) -> Settings:
        value = self.secret_key.get_secret_value()
        if value.strip().lower() in KNOWN_DEFAULT_SECRETS or len(value) < 16:
            if self.env != "development":
                raise ValueError(
                    "ECOVALUE_SECRET_KEY is empty, too short (< 16 characters) or a well-known "
                    "default; set it to a long random value, e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`, "
                    "or set ECOVALUE_ENV=development for local experiments"
                )
            self.secret_key = SecretStr(secrets.token_urlsafe(32))
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

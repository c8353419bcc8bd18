"""Message catalogues (``messages/zh.toml``, ``messages/en.toml``) and the page's translator.

Chinese is the default language; English is chosen by a switch remembered in the
``ev_lang`` cookie. Every label of the site comes from a catalogue here, or, for domain
names (indicators, categories, ecosystem types), from the accounting catalogue that
already holds both languages, so no label is written twice.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.result import CATEGORY_ZH, ECOSYSTEM_TYPE_ZH

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "ev_lang"
MESSAGES_DIR = Path(__file__).parent / "messages"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """The flat message table of ``lang`` (keys such as ``nav.home``)."""
    if lang not in LANGS:
        raise KeyError(f"language '{lang}' has no catalogue; expected one of {LANGS}")
    with open(MESSAGES_DIR / f"{lang}.toml", "rb") as f:
        return MappingProxyType(_flatten(tomllib.load(f)))


def language(cookie_value: str | None) -> str:
    """The language a cookie value names, or the default (Chinese)."""
    return cookie_value if cookie_value in LANGS else DEFAULT_LANG


@dataclass(frozen=True)
class Translator:
    """Labels of one language: ``t('nav.home')``, ``t('home.total', year=2023)``."""

    lang: str

    def __call__(self, key: str, **values: Any) -> str:
        text = catalogue(self.lang)[key]  # a missing key is a bug: tests check every key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in catalogue(self.lang)

    def indicator(self, indicator: str) -> str:
        spec = INDICATORS.get(indicator)
        if spec is None:
            return indicator
        return spec.name_zh if self.lang == "zh" else spec.name_en

    def category(self, category: str) -> str:
        if self.lang == "zh":
            return CATEGORY_ZH.get(category, category)
        return self(f"category.{category}") if self.has(f"category.{category}") else category

    def ecosystem(self, etype: str) -> str:
        if self.lang == "zh":
            return ECOSYSTEM_TYPE_ZH.get(etype, etype)
        return self(f"ecosystem.{etype}") if self.has(f"ecosystem.{etype}") else etype

    def use(self, code: str | None) -> str:
        """A land use code (e.g. ``ecological_protection``) in words, or the code itself."""
        if not code:
            return ""
        return self(f"use.{code}") if self.has(f"use.{code}") else code

    def region(self, name_zh: str, name_en: str | None) -> str:
        return name_zh if self.lang == "zh" or not name_en else name_en

    def messages_for_script(self, prefix: str = "js.") -> dict[str, str]:
        """The labels page scripts need (keys under ``js.``), without the prefix."""
        return {k[len(prefix):]: v for k, v in catalogue(self.lang).items() if k.startswith(prefix)}

"""Datasets the platform may account: found under configured roots, every path checked.

A run names its dataset relative to a root (``ECOVALUE_DATASET_ROOTS``, default
``<data folder>/datasets``): ``wuhan`` is ``<root>/wuhan``. The name and every path inside
its ``dataset.toml`` are resolved (symbolic links followed) and must stay inside the root
and the dataset folder respectively; anything else is refused with the same message
whether or not it exists, so the API tells nothing about the server's other folders.

The departments' approved numbers enter a run through an *overlay*: a folder holding a
copy of the manifest whose rasters and vectors point at the dataset's own (checked) files
and whose statistics and reported tables are the dataset's rows with the approved rows
merged in (approved statistics replace the dataset's rows of the same region, year and
item; approved reported quantities are added). Both engines read the overlay as any
dataset folder, so the merge is written once and the unit checks are the loader's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from ecovalue.datasets.manifest import MANIFEST_NAME, Manifest, read_manifest
from ecovalue.errors import Problem, ValidationFailed
from ecovalue.platform.errors import NotFound

STAT_KEY = ("region_code", "year", "item")


@dataclass(frozen=True)
class DatasetRef:
    """A dataset folder found under a root: its name (relative to the root) and manifest."""

    name: str
    folder: Path
    manifest: Manifest


def _not_found(name: str, roots: tuple[Path, ...]) -> NotFound:
    return NotFound(
        f"no dataset '{name}' under the dataset roots; name a folder relative to a root "
        f"(GET /api/datasets lists them; roots are set by ECOVALUE_DATASET_ROOTS, now "
        f"{len(roots)} root(s))"
    )


def resolve_dataset(name: str, roots: tuple[Path, ...]) -> DatasetRef:
    """The dataset ``name`` (relative to one of ``roots``), its manifest paths checked.

    Raises NotFound for a name outside every root or without a readable manifest, and
    ValidationFailed naming each manifest entry whose path leaves the dataset folder.
    """
    for root in roots:
        try:
            folder = (root / name).resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
            continue
        if folder != root and root in folder.parents and (folder / MANIFEST_NAME).is_file():
            manifest, _problems = read_manifest(folder)
            if manifest is None:
                raise ValidationFailed(_problems)
            check_manifest_paths(folder, manifest)
            return DatasetRef(str(folder.relative_to(root)), folder, manifest)
    raise _not_found(name, roots)


def _entries(manifest: Manifest) -> list[tuple[str, str]]:
    return [
        *((f"[rasters.{k}]", e.path) for k, e in manifest.rasters.items()),
        *((f"[vectors.{k}]", e.path) for k, e in manifest.vectors.items()),
        *((f"[tables.{k}]", e.path) for k, e in manifest.tables.items()),
    ]


def check_manifest_paths(folder: Path, manifest: Manifest) -> None:
    """Raise ValidationFailed for every manifest path that resolves outside ``folder``."""
    problems = []
    for where, path in _entries(manifest):
        target = (folder / path).resolve()
        if folder not in target.parents:
            problems.append(
                Problem(
                    f"{MANIFEST_NAME} {where}",
                    f"path '{path}' points outside the dataset folder",
                    "a path inside the dataset folder (e.g. rasters/landcover.tif)",
                    "copy the file into the dataset folder and name it relative to it",
                )
            )
    if problems:
        raise ValidationFailed(problems)


def list_datasets(roots: tuple[Path, ...]) -> list[DatasetRef]:
    """Every dataset folder one level below each root (manifest readable, paths inside)."""
    out = []
    for root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            try:
                out.append(resolve_dataset(folder.name, (root,)))
            except (NotFound, ValidationFailed):
                continue
    return out


def _read_rows(path: Path | None) -> pd.DataFrame:
    if path is None or not path.is_file():
        return pd.DataFrame()
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue()


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype(object).where(df.notna(), "").astype(str)


def write_overlay(
    ref: DatasetRef, approved_statistics: pd.DataFrame, approved_reported: pd.DataFrame, out: Path
) -> Path:
    """Write the overlay of ``ref`` with the approved rows into ``out``; return the folder."""
    out.mkdir(parents=True, exist_ok=True)
    raw = ref.manifest.model_dump(exclude_defaults=False)
    for section in ("rasters", "vectors", "tables"):
        for entry in raw[section].values():
            entry["path"] = str((ref.folder / entry["path"]).resolve())
    tables = raw["tables"]
    if len(approved_statistics):
        own = _read_rows(Path(tables["statistics"]["path"]) if "statistics" in tables else None)
        new = _as_text(approved_statistics)
        replaced = set(zip(new["region_code"], new["year"], new["item"], strict=True))
        if len(own):
            keep = [k not in replaced for k in zip(*(own[c] for c in STAT_KEY), strict=True)]
            own = own[keep]
        (out / "statistics.csv").write_text(_csv(pd.concat([own, new], ignore_index=True)), "utf-8")
        tables.setdefault("statistics", {"path": ""})["path"] = str(out / "statistics.csv")
    if len(approved_reported):
        own = _read_rows(Path(tables["reported"]["path"]) if "reported" in tables else None)
        merged = pd.concat([own, _as_text(approved_reported)], ignore_index=True)
        (out / "reported.csv").write_text(_csv(merged), "utf-8")
        tables.setdefault("reported", {"path": ""})["path"] = str(out / "reported.csv")
    (out / MANIFEST_NAME).write_text(tomli_w.dumps(_without_none(raw)), "utf-8")
    return out


def _without_none(value: Any) -> Any:
    """TOML has no null: drop None values (the manifest's optional fields)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value

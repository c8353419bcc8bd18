"""The dataset manifest (``dataset.toml``): what a dataset folder contains.

The format is documented in ``docs/dataset-format.md``. Parsing never stops at the
first problem: :func:`read_manifest` returns the manifest (or ``None``) and every
problem found.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecovalue.errors import Problem

MANIFEST_NAME = "dataset.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetInfo(_Strict):
    name: str
    title_zh: str = ""
    title_en: str = ""
    year: int
    crs: str
    synthetic: bool = False
    description: str = ""


class RasterEntry(_Strict):
    path: str
    unit: str
    description: str = ""


class VectorEntry(_Strict):
    path: str
    code_field: str = "code"
    name_field: str = "name"
    name_zh_field: str = "name_zh"
    name_en_field: str = "name_en"
    description: str = ""


class TableEntry(_Strict):
    path: str
    units: dict[str, str] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict)
    description: str = ""


class Manifest(_Strict):
    dataset: DatasetInfo
    rasters: dict[str, RasterEntry] = Field(default_factory=dict)
    vectors: dict[str, VectorEntry] = Field(default_factory=dict)
    tables: dict[str, TableEntry] = Field(default_factory=dict)


def read_manifest(folder: str | Path) -> tuple[Manifest | None, list[Problem]]:
    """Parse ``folder/dataset.toml``; return the manifest (None if unusable) and problems."""
    root = Path(folder)
    path = root / MANIFEST_NAME
    if not root.is_dir():
        return None, [
            Problem(str(root), "is not a folder", "a dataset folder containing dataset.toml",
                    "pass the path of the dataset folder (e.g. one made by `ecovalue demo-data`)")
        ]
    if not path.exists():
        return None, [
            Problem(str(path), "file not found", "a dataset manifest named dataset.toml",
                    "write dataset.toml as described in docs/dataset-format.md")
        ]
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), f"is not valid TOML ({exc})", "a TOML file",
                              "fix the syntax at the position given")]
    try:
        return Manifest.model_validate(raw), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            problems.append(Problem(f"{path} [{loc}]", err["msg"],
                                    "the fields listed in docs/dataset-format.md",
                                    f"correct or add '{loc}'"))
        return None, problems

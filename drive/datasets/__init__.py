"""Raw sources -> :class:`~drive.data.schema.Scenario`. One module per source; this module dispatches.

``iter_scenarios(path)`` detects the source of a file or directory (WOMD TFRecord, Argoverse 2
scenario directory, ETH/UCY text file or directory; simulated traffic is written as WOMD TFRecords).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

from drive.data.schema import Scenario
from drive.datasets.base import LoadReport, SkippedRecord
from drive.errors import DataError

# Detection order matters: the first source whose ``detect`` accepts the path reads it.
SOURCES: tuple[str, ...] = ("womd", "av2", "eth_ucy")


def source_module(name: str):
    if name not in SOURCES:
        raise DataError(f"unknown data source {name!r}; valid sources: {', '.join(SOURCES)}")
    return importlib.import_module(f"drive.datasets.{name}")


def detect_source(path: str | Path) -> str:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    for name in SOURCES:
        if source_module(name).detect(path):
            return name
    raise DataError(
        f"{path}: not a recognised dataset{_why_not(path)} (expected a WOMD .tfrecord file, an Argoverse 2 "
        "scenario directory, or an ETH/UCY .txt file or directory)"
    )


def _why_not(path: Path) -> str:
    """What a user most likely got wrong, for files that look meant for a source but fail detection."""
    if path.is_file() and path.stat().st_size == 0:
        return ": the file is empty"
    if path.is_file() and path.suffix == ".txt":
        return ": an ETH/UCY file's first non-empty line must be 4 numbers 'frame ped_id x y'"
    return ""


def iter_scenarios(
    path: str | Path,
    *,
    source: str | None = None,
    skip_errors: bool = False,
    report: LoadReport | None = None,
    **options,
) -> Iterator[Scenario]:
    """Scenarios in ``path``; ``source`` overrides detection. See :mod:`drive.datasets.base`."""
    path = Path(path)
    name = source or detect_source(path)
    yield from source_module(name).iter_scenarios(path, skip_errors=skip_errors, report=report, **options)


__all__ = ["SOURCES", "LoadReport", "SkippedRecord", "detect_source", "iter_scenarios", "source_module"]

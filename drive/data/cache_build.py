"""Building the scene cache (see :mod:`drive.data.cache`); free of torch so worker processes start fast."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
from pathlib import Path

from tqdm import tqdm

from drive.data.cache_arrays import SCHEMA_VERSION, file_crc32c, pack_scenes, write_arrays
from drive.datasets import LoadReport, detect_source, source_module
from drive.datasets.base import SkippedRecord
from drive.errors import DataError

FORMAT = "drive-scene-cache"
AV2_SCENES_PER_UNIT = 1000
BUILD_HINT = "`drive cache INPUT... --out DIR` (into an empty DIR)"
REBUILD_HINT = f"rebuild it with {BUILD_HINT}"


def work_units(inputs: list[str | Path]) -> list[tuple[str, list[str]]]:
    """``(source, paths)`` units of the inputs, sorted by first path; the unit is the unit of work."""
    units = []
    for path in inputs:
        source = detect_source(path)
        module = source_module(source)
        if hasattr(module, "tfrecord_files"):
            units += [(source, [str(p)]) for p in module.tfrecord_files(path)]
        elif hasattr(module, "scenario_dirs"):
            dirs = [str(p) for p in module.scenario_dirs(path)]
            units += [
                (source, dirs[i : i + AV2_SCENES_PER_UNIT]) for i in range(0, len(dirs), AV2_SCENES_PER_UNIT)
            ]
        else:
            units.append((source, [str(path)]))
    return sorted(units, key=lambda unit: unit[1][0])


def inputs_digest(units: list[tuple[str, list[str]]]) -> str:
    """Fingerprint of the unit list, so parts built from different inputs are not mixed. Only file
    names count, so machines that mount the data at different places agree."""
    names = [[source, [Path(p).name for p in paths]] for source, paths in units]
    return hashlib.sha256(json.dumps(names).encode()).hexdigest()[:16]


def _manifest_name(index: int, count: int) -> str:
    return f"manifest-{index:04d}-of-{count:04d}.json"


def _build_unit(job: tuple[int, str, list[str], str, bool]) -> dict:
    """Convert one unit and write its file; runs in a worker process."""
    unit_index, source, paths, out_dir, skip_errors = job
    module = source_module(source)
    report = LoadReport()
    scenes = []
    for path in paths:
        scenes += module.iter_scenarios(Path(path), skip_errors=skip_errors, report=report)
    file = Path(out_dir) / "units" / f"{unit_index:06d}.scenes"
    write_arrays(file, pack_scenes(scenes), {"unit": unit_index, "inputs": paths})
    return {
        "index": unit_index,
        "source": source,
        "inputs": paths,
        "file": str(file.relative_to(out_dir)),
        "bytes": file.stat().st_size,
        "crc32c": file_crc32c(file),
        "num_scenes": len(scenes),
        "skipped": [[s.path, s.record, s.reason] for s in report.skipped],
    }


def _check_existing(out_dir: Path, count: int) -> None:
    for manifest in sorted(out_dir.glob("manifest-*.json")):
        info = load_manifest(manifest)
        if info["shard"][1] != count:
            raise DataError(
                f"{out_dir}: holds a cache built in {info['shard'][1]} part(s), this build uses {count}; "
                "use another --out or delete the folder"
            )


def build_cache(
    inputs: list[str | Path],
    out_dir: str | Path,
    *,
    shard: tuple[int, int] = (0, 1),
    workers: int = 1,
    skip_errors: bool = False,
    progress: bool = True,
) -> LoadReport:
    """Build part ``shard = (I, N)`` of the cache of ``inputs`` in ``out_dir`` with ``workers``
    processes. Returns what was loaded and skipped. Raises :class:`DataError` on bad input unless
    ``skip_errors``."""
    index, count = shard
    if not (count >= 1 and 0 <= index < count):
        raise DataError(f"shard must be I/N with 0 <= I < N, got {index}/{count}")
    if workers < 1:
        raise DataError(f"workers must be >= 1, got {workers}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_existing(out_dir, count)
    units = work_units(inputs)
    jobs = [(k, s, p, str(out_dir), skip_errors) for k, (s, p) in enumerate(units) if k % count == index]
    results = []
    bar = tqdm(total=len(jobs), unit="file", desc=f"cache part {index}/{count}", disable=not progress)
    if workers == 1 or len(jobs) <= 1:
        mapped = map(_build_unit, jobs)
    else:
        pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)))
        mapped = pool.imap_unordered(_build_unit, jobs)
    try:
        for result in mapped:
            results.append(result)
            bar.update(1)
            bar.set_postfix(scenes=sum(r["num_scenes"] for r in results))
    finally:
        bar.close()
        if workers > 1 and len(jobs) > 1:
            pool.terminate()
    results.sort(key=lambda r: r["index"])
    manifest = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "shard": [index, count],
        "num_units": len(units),
        "inputs_digest": inputs_digest(units),
        "units": results,
    }
    _write_json(out_dir / _manifest_name(index, count), manifest)
    report = LoadReport(loaded=sum(r["num_scenes"] for r in results))
    report.skipped = [SkippedRecord(*s) for r in results for s in r["skipped"]]
    return report


def _write_json(path: Path, value: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(value, handle, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def load_manifest(path: Path) -> dict:
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable cache manifest ({err}); {REBUILD_HINT}") from err
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise DataError(f"{path}: not a drive scene cache manifest; {REBUILD_HINT}")
    if info.get("schema_version") != SCHEMA_VERSION:
        raise DataError(
            f"{path}: cache schema version {info.get('schema_version')}, this version of drive reads "
            f"{SCHEMA_VERSION}; {REBUILD_HINT}"
        )
    _check_manifest_fields(path, info)
    return info


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# Field -> check for each unit entry; a damaged manifest must fail here, naming the field, and not deep
# inside numpy or pathlib (or by allocating what a corrupt count asks for).
_UNIT_FIELDS = {
    "index": _is_count,
    "file": lambda v: isinstance(v, str) and v.startswith("units/") and ".." not in v,
    "bytes": _is_count,
    "crc32c": _is_count,
    "num_scenes": _is_count,
    "inputs": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def _check_manifest_fields(path: Path, info: dict) -> None:
    def bad(field: str, value) -> DataError:
        return DataError(
            f"{path}: field {field!r}: bad value {value!r} in the cache manifest; {REBUILD_HINT}"
        )

    shard = info.get("shard")
    if not (isinstance(shard, list) and len(shard) == 2 and all(_is_count(x) for x in shard)):
        raise bad("shard", shard)
    if not shard[0] < shard[1] <= 1_000_000:
        raise bad("shard", shard)
    if not isinstance(info.get("inputs_digest"), str):
        raise bad("inputs_digest", info.get("inputs_digest"))
    units = info.get("units")
    if not isinstance(units, list):
        raise bad("units", units)
    for k, unit in enumerate(units):
        if not isinstance(unit, dict):
            raise bad(f"units[{k}]", unit)
        for field, ok in _UNIT_FIELDS.items():
            if not ok(unit.get(field)):
                raise bad(f"units[{k}].{field}", unit.get(field))

"""Preprocessed scene cache: raw datasets -> flat raw-array files that training reads fast.

Layout of a cache folder::

    DIR/manifest-0003-of-0008.json   one per part (``--shard 3/8``), written last and atomically
    DIR/units/000042.scenes          one raw-array file per input unit (see drive.data.cache_arrays)

An input unit is one WOMD TFRecord file, a group of Argoverse 2 scenario folders, or one ETH/UCY
path. Units are sorted by path and unit ``k`` belongs to part ``k % N``, so N machines given the same
inputs each build their part with no coordination; :class:`CachedScenes` reads all N parts as one
dataset and refuses a cache whose parts are missing, mixed, or of another schema version, saying how
to rebuild it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch.utils.data

from drive.data.cache_arrays import PackedScenes, file_crc32c, read_arrays
from drive.data.cache_build import BUILD_HINT, REBUILD_HINT, build_cache, load_manifest, work_units
from drive.data.schema import Scenario
from drive.errors import DataError

__all__ = ["CachedScenes", "build_cache", "is_scene_cache", "work_units"]


def is_scene_cache(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by :func:`build_cache` (it holds a part manifest)."""
    path = Path(path)
    return path.is_dir() and any(path.glob("manifest-*-of-*.json"))


class CachedScenes(torch.utils.data.Dataset):
    """All parts of a cache folder as one dataset of :class:`Scenario` (in unit, then file order).

    Unit files are memory-mapped on first use in each process, so the dataset is cheap to copy into
    ``DataLoader`` workers. On first use a unit file's CRC-32C is checked against the manifest; its
    scenes were validated when the cache was built, so by default they are not validated again on
    every load (about 2.5x faster). ``validate=True`` re-runs ``Scenario.validate`` on each load.
    """

    def __init__(self, root: str | Path, *, validate: bool = False) -> None:
        self.root = Path(root)
        self.validate = validate
        manifests = sorted(self.root.glob("manifest-*.json"))
        if not manifests:
            raise DataError(
                f"{self.root}: not a scene cache (no manifest-*.json); build one with {BUILD_HINT}"
            )
        infos = [load_manifest(m) for m in manifests]
        counts = {info["shard"][1] for info in infos}
        if len(counts) != 1:
            raise DataError(
                f"{self.root}: parts of caches built with different N {sorted(counts)}; {REBUILD_HINT}"
            )
        count = counts.pop()
        missing = sorted(set(range(count)) - {info["shard"][0] for info in infos})
        if missing:
            raise DataError(
                f"{self.root}: cache part(s) {missing} of {count} are missing; build them with "
                f"`drive cache INPUT... --out {self.root} --shard I/{count}`"
            )
        if len({info.get("inputs_digest") for info in infos}) != 1:
            raise DataError(f"{self.root}: its parts were built from different inputs; {REBUILD_HINT}")
        self.units = sorted((u for info in infos for u in info["units"]), key=lambda u: u["index"])
        for unit in self.units:
            file = self.root / unit["file"]
            if not file.is_file() or file.stat().st_size != unit["bytes"]:
                raise DataError(f"{file}: missing or changed since the manifest was written; {REBUILD_HINT}")
        sizes = np.asarray([u["num_scenes"] for u in self.units], np.int64)
        self._starts = np.concatenate([[0], np.cumsum(sizes)])
        self._open: dict[int, PackedScenes] = {}

    def __len__(self) -> int:
        return int(self._starts[-1])

    def _unit(self, u: int) -> PackedScenes:
        packed = self._open.get(u)
        if packed is None:
            unit = self.units[u]
            file = self.root / unit["file"]
            if file_crc32c(file) != unit["crc32c"]:
                raise DataError(f"{file}: checksum differs from the manifest (file changed); {REBUILD_HINT}")
            arrays, _ = read_arrays(file)
            packed = PackedScenes(arrays, str(file))
            if packed.num_scenes != unit["num_scenes"]:
                raise DataError(
                    f"{file}: holds {packed.num_scenes} scene(s), the manifest says {unit['num_scenes']}; "
                    f"{REBUILD_HINT}"
                )
            self._open[u] = packed
        return packed

    def __getitem__(self, i: int) -> Scenario:
        if not -len(self) <= i < len(self):
            raise IndexError(f"scene index {i} out of range for {len(self)} scenes")
        i = int(i) % len(self)
        u = int(np.searchsorted(self._starts, i, side="right") - 1)
        return self._unit(u).scenario(i - int(self._starts[u]), validate=self.validate)

    @property
    def scenario_ids(self) -> list[str]:
        """Scenario ids in dataset order."""
        ids = []
        for u, unit in enumerate(self.units):
            if unit["num_scenes"]:
                ids += [str(s) for s in self._unit(u).arrays["scenario_id"]]
        return ids

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_open"] = {}  # memory maps are reopened in each worker process
        return state

"""Scenes <-> flat numpy arrays, and the raw-array file that holds them (no pickle).

A group of S scenes becomes one dict of arrays: per-scene counts (agents, steps, targets, polylines,
points, traffic-light lanes) and the scenes' arrays concatenated along their first axis (per-agent
step arrays flattened to ``[sum A*T, ...]``, traffic lights to ``[sum T*L, ...]``). Offsets are
cumulative sums of the counts, so scene ``j`` is a handful of slices.

File layout: 8-byte magic, little-endian uint64 header length, a JSON header (schema version, and
per array its dtype, shape and byte offset), then each array's bytes at a 64-byte aligned offset.
Files are memory-mapped read-only, so opening a cache reads no data and scenes share the page cache.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

import google_crc32c
import numpy as np

from drive.data.schema import AgentTracks, MapFeatures, Scenario, TrafficLights
from drive.errors import DataError

MAGIC = b"DRVSCN\x00\x01"
SCHEMA_VERSION = 1
_ALIGN = 64
_COUNTS = ("num_agents", "num_steps", "num_targets", "num_polylines", "num_points", "num_light_lanes")


def pack_scenes(scenes: Sequence[Scenario]) -> dict[str, np.ndarray]:
    """Concatenate ``scenes`` into flat arrays (see module docstring)."""
    if not scenes:
        return {}

    def cat(getter, axis_shape: tuple = ()) -> np.ndarray:
        return np.concatenate([np.asarray(getter(s)).reshape(-1, *axis_shape) for s in scenes])

    lights = [s.traffic_lights for s in scenes]
    return {
        "scenario_id": np.asarray([s.scenario_id for s in scenes], np.str_),
        "source": np.asarray([s.source for s in scenes], np.str_),
        "extras_json": np.asarray(
            [json.dumps(s.extras, sort_keys=True, default=_plain) for s in scenes], np.str_
        ),
        "dt_s": np.asarray([s.dt_s for s in scenes], np.float64),
        "current_step": np.asarray([s.current_step for s in scenes], np.int64),
        "has_sdc": np.asarray([s.sdc_idx is not None for s in scenes], bool),
        "sdc_idx": np.asarray([s.sdc_idx or 0 for s in scenes], np.int64),
        "has_lights": np.asarray([t is not None for t in lights], bool),
        "num_agents": np.asarray([s.agents.num_agents for s in scenes], np.int64),
        "num_steps": np.asarray([s.num_steps for s in scenes], np.int64),
        "num_targets": np.asarray([s.target_idx.size for s in scenes], np.int64),
        "num_polylines": np.asarray([s.map.num_polylines for s in scenes], np.int64),
        "num_points": np.asarray([s.map.points.shape[0] for s in scenes], np.int64),
        "num_light_lanes": np.asarray([0 if t is None else t.lane_ids.size for t in lights], np.int64),
        "agent_ids": cat(lambda s: s.agents.ids),
        "agent_types": cat(lambda s: s.agents.types),
        "agent_size": cat(lambda s: s.agents.size, (3,)),
        "agent_position": cat(lambda s: s.agents.position, (2,)),  # (sum A*T, 2)
        "agent_heading": cat(lambda s: s.agents.heading),
        "agent_velocity": cat(lambda s: s.agents.velocity, (2,)),
        "agent_valid": cat(lambda s: s.agents.valid),
        "target_idx": cat(lambda s: s.target_idx),
        "map_ids": cat(lambda s: s.map.ids),
        "map_types": cat(lambda s: s.map.types),
        "map_subtypes": cat(lambda s: s.map.subtypes),
        "map_point_counts": cat(lambda s: np.diff(s.map.offsets)),
        "map_points": cat(lambda s: s.map.points, (2,)),
        "light_lane_ids": _cat_lights(lights, lambda t: t.lane_ids, np.int64),
        "light_states": _cat_lights(lights, lambda t: t.states, np.int8),  # (sum T*L,)
        "light_stop_point": _cat_lights(lights, lambda t: t.stop_point, np.float32, (2,)),
        "light_valid": _cat_lights(lights, lambda t: t.valid, bool),
    }


def _plain(value):
    """numpy scalars in ``extras`` are stored as the Python numbers they hold."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Scenario.extras may hold only strings and numbers, got {type(value).__name__}")


def _cat_lights(lights, getter, dtype, tail: tuple = ()) -> np.ndarray:
    parts = [np.asarray(getter(t)).reshape(-1, *tail) for t in lights if t is not None]
    return np.concatenate(parts) if parts else np.zeros((0, *tail), dtype)


class PackedScenes:
    """Scenes of one packed array dict, unpacked one at a time."""

    def __init__(self, arrays: dict[str, np.ndarray], where: str) -> None:
        self.arrays = arrays
        self.where = where
        if not arrays:  # a unit whose every record was skipped
            arrays = {name: np.zeros(0, np.int64) for name in _COUNTS} | {"has_lights": np.zeros(0, bool)}
        counts = {name: np.asarray(arrays[name], np.int64) for name in _COUNTS}
        self.num_scenes = int(counts["num_agents"].shape[0])

        def starts(values: np.ndarray) -> np.ndarray:
            return np.concatenate([[0], np.cumsum(values)])

        self.agent = starts(counts["num_agents"])
        self.agent_step = starts(counts["num_agents"] * counts["num_steps"])
        self.target = starts(counts["num_targets"])
        self.polyline = starts(counts["num_polylines"])
        self.point = starts(counts["num_points"])
        self.lane = starts(counts["num_light_lanes"])
        self.light_step = starts(counts["num_light_lanes"] * counts["num_steps"] * arrays["has_lights"])

    def scenario(self, j: int, validate: bool = True) -> Scenario:
        """Scene ``j`` as a :class:`Scenario` (arrays copied out of the file, writable);
        ``validate=False`` skips re-running ``Scenario.validate`` (see :func:`_unchecked_scenario`)."""
        a = self.arrays
        num_agents, num_steps = self.agent[j + 1] - self.agent[j], int(a["num_steps"][j])

        def take(name: str, offsets: np.ndarray, *shape: int) -> np.ndarray:
            # Copied out of the read-only map: consumers may hand the arrays to torch and write to them.
            return np.array(a[name][offsets[j] : offsets[j + 1]]).reshape(*shape)

        agents = AgentTracks(
            ids=take("agent_ids", self.agent, -1),
            types=take("agent_types", self.agent, -1),
            position=take("agent_position", self.agent_step, num_agents, num_steps, 2),
            heading=take("agent_heading", self.agent_step, num_agents, num_steps),
            velocity=take("agent_velocity", self.agent_step, num_agents, num_steps, 2),
            size=take("agent_size", self.agent, num_agents, 3),
            valid=take("agent_valid", self.agent_step, num_agents, num_steps),
        )
        point_counts = take("map_point_counts", self.polyline, -1)
        road = MapFeatures(
            ids=take("map_ids", self.polyline, -1),
            types=take("map_types", self.polyline, -1),
            subtypes=take("map_subtypes", self.polyline, -1),
            points=take("map_points", self.point, -1, 2),
            offsets=np.concatenate([[0], np.cumsum(point_counts)]).astype(np.int64),
        )
        lights = None
        if a["has_lights"][j]:
            num_lanes = int(self.lane[j + 1] - self.lane[j])
            lights = TrafficLights(
                lane_ids=take("light_lane_ids", self.lane, -1),
                states=take("light_states", self.light_step, num_steps, num_lanes),
                stop_point=take("light_stop_point", self.light_step, num_steps, num_lanes, 2),
                valid=take("light_valid", self.light_step, num_steps, num_lanes),
            )
        values = {
            "scenario_id": str(a["scenario_id"][j]),
            "source": str(a["source"][j]),
            "dt_s": float(a["dt_s"][j]),
            "current_step": int(a["current_step"][j]),
            "agents": agents,
            "target_idx": take("target_idx", self.target, -1),
            "map": road,
            "sdc_idx": int(a["sdc_idx"][j]) if a["has_sdc"][j] else None,
            "traffic_lights": lights,
            "extras": json.loads(str(a["extras_json"][j])),
        }
        if not validate and set(values) == _SCENARIO_FIELDS:
            return _unchecked_scenario(values)
        try:
            return Scenario(**values)
        except DataError as err:
            raise DataError(f"{self.where}: scene {j}: {err}") from None


_SCENARIO_FIELDS = {f.name for f in dataclasses.fields(Scenario)}


def _unchecked_scenario(values: dict) -> Scenario:
    """A :class:`Scenario` built without re-running its validation. Only for scenes that were validated
    when the cache was built and whose file checksum was verified since (see ``CachedScenes``); if the
    schema gains a field this path is not taken."""
    scenario = object.__new__(Scenario)
    for name, value in values.items():
        object.__setattr__(scenario, name, value)
    return scenario


def file_crc32c(path: str | Path) -> int:
    """CRC-32C of a whole file (about 1.5 GB/s), to detect a cache file changed after it was written."""
    checksum = google_crc32c.Checksum()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            checksum.update(block)
    return int.from_bytes(checksum.digest(), "big")


def write_arrays(path: str | Path, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
    """Write ``arrays`` as one raw-array file, atomically (temp file + ``os.replace``)."""
    path = Path(path)
    layout, offset = {}, 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        layout[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    header = {"schema_version": SCHEMA_VERSION, "meta": meta or {}, "arrays": layout}
    blob = json.dumps(header).encode()
    data_start = -(-(len(MAGIC) + 8 + len(blob)) // _ALIGN) * _ALIGN
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(MAGIC + struct.pack("<Q", len(blob)) + blob)
            for name, array in arrays.items():
                handle.seek(data_start + layout[name]["offset"])
                handle.write(np.ascontiguousarray(array).tobytes())
            handle.truncate(data_start + offset)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Memory-mapped arrays of a file written by :func:`write_arrays`, and its ``meta``.

    Raises :class:`DataError` for a foreign, truncated or other-version file."""
    path = Path(path)
    try:
        # A plain ndarray over the map: the memmap subclass makes every slice several times slower.
        raw = np.memmap(path, np.uint8, mode="r").view(np.ndarray)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read cache file: {err}") from err
    if raw.shape[0] < len(MAGIC) + 8 or bytes(raw[: len(MAGIC)]) != MAGIC:
        raise DataError(f"{path}: not a drive scene cache file")
    (length,) = struct.unpack("<Q", bytes(raw[len(MAGIC) : len(MAGIC) + 8]))
    try:
        header = json.loads(bytes(raw[len(MAGIC) + 8 : len(MAGIC) + 8 + length]))
    except ValueError as err:
        raise DataError(f"{path}: corrupt cache header") from err
    if header.get("schema_version") != SCHEMA_VERSION:
        raise DataError(
            f"{path}: cache schema version {header.get('schema_version')}, this version of drive reads "
            f"{SCHEMA_VERSION}; rebuild the cache with `drive cache`"
        )
    data_start = -(-(len(MAGIC) + 8 + length) // _ALIGN) * _ALIGN
    arrays = {}
    for name, spec in header["arrays"].items():
        dtype = np.dtype(spec["dtype"])
        count = int(np.prod(spec["shape"], dtype=np.int64))
        start = data_start + spec["offset"]
        if start + count * dtype.itemsize > raw.shape[0]:
            raise DataError(f"{path}: truncated cache file (array {name!r} runs past the end)")
        arrays[name] = raw[start : start + count * dtype.itemsize].view(dtype).reshape(spec["shape"])
    return arrays, header.get("meta", {})

"""Argoverse 2 motion forecasting scenarios -> :class:`Scenario`, read with pyarrow + json only.

Layout: ``<root>/<scenario_id>/scenario_<scenario_id>.parquet`` next to
``log_map_archive_<scenario_id>.json``. A scenario has 110 steps at 10 Hz; steps 0-49 are observed
(``current_step`` 49), 50-109 the future (absent, i.e. invalid, in the test split). Positions are in
the city frame, metres. Targets are the focal track (category 3) first, then the scored tracks
(category 2). The ego vehicle (track id ``"AV"``) is ``sdc_idx`` with agent id :data:`AV_AGENT_ID`.

AV2 has no box sizes: every agent gets the nominal size of its object type (:data:`NOMINAL_SIZE_M`).
Object types: vehicle/bus -> VEHICLE; pedestrian -> PEDESTRIAN; cyclist, motorcyclist and
riderless_bicycle -> CYCLIST; static, background, construction, unknown -> OTHER.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from drive.data.schema import AgentTracks, AgentType, MapFeatures, Scenario
from drive.datasets.av2_map import MAP_KIND_NAMES, read_map
from drive.datasets.base import LoadReport
from drive.errors import ConfigError, DataError
from drive.geometry.se2 import wrap_angle

DT_S = 0.1
NUM_STEPS = 110
CURRENT_STEP = 49
AV_TRACK_ID = "AV"
AV_AGENT_ID = -1  # AV2 names the ego track "AV"; every other track id is a positive integer string

OBJECT_TYPES: dict[str, AgentType] = {
    "vehicle": AgentType.VEHICLE,
    "bus": AgentType.VEHICLE,
    "pedestrian": AgentType.PEDESTRIAN,
    "cyclist": AgentType.CYCLIST,
    "motorcyclist": AgentType.CYCLIST,
    "riderless_bicycle": AgentType.CYCLIST,
    "static": AgentType.OTHER,
    "background": AgentType.OTHER,
    "construction": AgentType.OTHER,
    "unknown": AgentType.OTHER,
}

# length, width, height (m): typical values, since AV2 publishes no boxes.
NOMINAL_SIZE_M: dict[str, tuple[float, float, float]] = {
    "vehicle": (4.5, 2.0, 1.6),
    "bus": (12.0, 2.6, 3.2),
    "pedestrian": (0.5, 0.5, 1.75),
    "cyclist": (1.8, 0.7, 1.7),
    "motorcyclist": (2.2, 0.8, 1.6),
    "riderless_bicycle": (1.8, 0.6, 1.1),
    "static": (1.0, 1.0, 1.0),
    "background": (1.0, 1.0, 1.0),
    "construction": (1.0, 1.0, 1.0),
    "unknown": (1.0, 1.0, 1.0),
}

FOCAL_CATEGORY, SCORED_CATEGORY = 3, 2
MAX_ABS_VALUE = 1e8  # m, m/s or rad: far beyond any AV2 city frame

# column -> expected kind: f float, i integer, b bool, s string
COLUMNS: dict[str, str] = {
    "observed": "b",
    "track_id": "s",
    "object_type": "s",
    "object_category": "i",
    "timestep": "i",
    "position_x": "f",
    "position_y": "f",
    "heading": "f",
    "velocity_x": "f",
    "velocity_y": "f",
    "scenario_id": "s",
    "focal_track_id": "s",
    "city": "s",
}
STATE_COLUMNS = ("position_x", "position_y", "heading", "velocity_x", "velocity_y")

__all__ = [
    "AV_AGENT_ID",
    "MAP_KIND_NAMES",
    "NOMINAL_SIZE_M",
    "OBJECT_TYPES",
    "detect",
    "iter_scenarios",
    "map_features_by_type",
    "read_scenario",
    "read_tracks",
    "scenario_dirs",
]


def _is_scenario_dir(path: Path) -> bool:
    return any(path.glob("scenario_*.parquet")) or any(path.glob("log_map_archive_*.json"))


def detect(path: str | Path) -> bool:
    """True for an AV2 scenario parquet, a scenario directory, or a root of scenario directories."""
    path = Path(path)
    if path.is_file():
        return path.name.startswith("scenario_") and path.suffix == ".parquet"
    if not path.is_dir():
        return False
    return any(path.glob("scenario_*.parquet")) or any(path.glob("*/scenario_*.parquet"))


def scenario_dirs(path: str | Path) -> list[Path]:
    """Scenario directories under ``path`` (itself, its parent for a parquet file, or its children)."""
    path = Path(path)
    if path.is_file():
        return [path.parent]
    if not path.is_dir():
        raise DataError(f"{path}: no such AV2 scenario directory")
    if _is_scenario_dir(path):
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and _is_scenario_dir(p))


def _one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        raise DataError(f"{directory}: expected exactly one {pattern}, found {len(found)}")
    return found[0]


def _column(table, name: str, kind: str, where: str) -> np.ndarray:
    import pyarrow as pa

    column = table.column(name)
    if column.null_count:
        raise DataError(f"{where}: column {name!r}: {column.null_count} null value(s)")
    ok = {
        "f": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
        "i": pa.types.is_integer,
        "b": pa.types.is_boolean,
        "s": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    }[kind]
    value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not ok(value_type):
        raise DataError(f"{where}: column {name!r}: unexpected type {column.type}")
    values = column.to_numpy(zero_copy_only=False)
    if kind == "s":
        return np.asarray(values, dtype=str)
    return values.astype({"f": np.float64, "i": np.int64, "b": bool}[kind])


def read_tracks(path: str | Path) -> dict[str, np.ndarray]:
    """The columns :data:`COLUMNS` of an AV2 scenario parquet as numpy arrays ``[rows]``.

    Raises :class:`DataError` naming the file and column for a missing or mistyped column, and the
    file for an unreadable (truncated, corrupted) one.
    """
    import pyarrow.parquet as pq

    where = str(path)
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        missing = [name for name in COLUMNS if name not in names]
        if missing:
            raise DataError(f"{where}: missing column(s) {', '.join(map(repr, missing))}")
        table = parquet.read(columns=list(COLUMNS))
    except DataError:
        raise
    except Exception as err:  # any decoder failure on foreign bytes is bad input, not a crash
        raise DataError(f"{where}: cannot read the parquet file ({type(err).__name__}: {err})") from err
    if table.num_rows == 0:
        raise DataError(f"{where}: empty scenario: no rows")
    return {name: _column(table, name, kind, where) for name, kind in COLUMNS.items()}


def _track_number(where: str, track_id: str) -> int:
    track_id = str(track_id)
    if track_id == AV_TRACK_ID:
        return AV_AGENT_ID
    try:
        return int(track_id)
    except ValueError as err:
        raise DataError(f"{where}: column 'track_id': non-numeric track id {track_id!r}") from err


def _per_track(where: str, name: str, values: np.ndarray, inverse: np.ndarray, num_tracks: int) -> np.ndarray:
    """The one value of column ``name`` for each track; it must not change along a track."""
    first = np.zeros(num_tracks, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]  # first row of each track
    per_track = values[first]
    changed = np.flatnonzero(values != per_track[inverse])
    if changed.size:
        raise DataError(f"{where}: column {name!r}: value changes along a track (row {changed[0]})")
    return per_track


def _check_rows(where: str, columns: dict[str, np.ndarray]) -> None:
    step = columns["timestep"]
    bad = np.flatnonzero((step < 0) | (step >= NUM_STEPS))
    if bad.size:
        raise DataError(f"{where}: column 'timestep': value {step[bad[0]]} outside 0..{NUM_STEPS - 1}")
    bad = np.flatnonzero(columns["observed"] != (step <= CURRENT_STEP))
    if bad.size:
        raise DataError(
            f"{where}: column 'observed': must be True exactly for timesteps 0..{CURRENT_STEP} "
            f"(row {bad[0]}, timestep {step[bad[0]]})"
        )
    for name in STATE_COLUMNS:
        values = columns[name]
        # beyond MAX_ABS_VALUE a value is garbage (and would overflow float32), not a city coordinate
        bad = np.flatnonzero(~(np.abs(values) <= MAX_ABS_VALUE))
        if bad.size:
            row = bad[0]
            what = "non-finite" if not np.isfinite(values[row]) else "out-of-range"
            raise DataError(
                f"{where}: column {name!r}: {what} value {values[row]} at track "
                f"{str(columns['track_id'][row])!r}, timestep {step[row]}"
            )
    for name in ("scenario_id", "focal_track_id", "city"):
        if np.any(columns[name] != columns[name][0]):
            raise DataError(f"{where}: column {name!r}: value differs between rows")


def scenario_from_columns(columns: dict[str, np.ndarray], where: str, map_path: Path | None) -> Scenario:
    """Build a :class:`Scenario` from :func:`read_tracks` columns (and the map file, if given)."""
    _check_rows(where, columns)
    track_names, inverse = np.unique(columns["track_id"], return_inverse=True)
    num_tracks = len(track_names)
    object_type = _per_track(where, "object_type", columns["object_type"], inverse, num_tracks)
    category = _per_track(where, "object_category", columns["object_category"], inverse, num_tracks)
    unknown = sorted(set(object_type.tolist()) - OBJECT_TYPES.keys())
    if unknown:
        known = ", ".join(OBJECT_TYPES)
        raise DataError(f"{where}: column 'object_type': unknown value(s) {unknown}; known: {known}")
    bad = np.flatnonzero((category < 0) | (category > FOCAL_CATEGORY))
    if bad.size:
        raise DataError(
            f"{where}: column 'object_category': unknown value {category[bad[0]]} for track "
            f"{str(track_names[bad[0]])!r}; known: 0 fragment, 1 unscored, 2 scored, 3 focal"
        )

    step = columns["timestep"]
    valid = np.zeros((num_tracks, NUM_STEPS), bool)
    valid[inverse, step] = True
    if valid.sum() != len(step):
        raise DataError(f"{where}: columns 'track_id', 'timestep': duplicate (track, timestep) rows")
    position = np.zeros((num_tracks, NUM_STEPS, 2), np.float64)
    position[inverse, step] = np.stack([columns["position_x"], columns["position_y"]], -1)
    velocity = np.zeros((num_tracks, NUM_STEPS, 2), np.float64)
    velocity[inverse, step] = np.stack([columns["velocity_x"], columns["velocity_y"]], -1)
    heading = np.zeros((num_tracks, NUM_STEPS), np.float32)
    heading[inverse, step] = wrap_angle(columns["heading"].astype(np.float32))

    agents = AgentTracks(
        ids=np.array([_track_number(where, t) for t in track_names], np.int64),
        types=np.array([OBJECT_TYPES[t] for t in object_type], np.int8),
        position=position.astype(np.float32),
        heading=heading,
        velocity=velocity.astype(np.float32),
        size=np.array([NOMINAL_SIZE_M[t] for t in object_type], np.float32),
        valid=valid,
    )
    target_idx = np.concatenate(
        [np.flatnonzero(category == FOCAL_CATEGORY), np.flatnonzero(category == SCORED_CATEGORY)]
    )
    av = np.flatnonzero(track_names == AV_TRACK_ID)
    return Scenario(
        scenario_id=str(columns["scenario_id"][0]),
        source="av2",
        dt_s=DT_S,
        current_step=CURRENT_STEP,
        agents=agents,
        target_idx=target_idx.astype(np.int64),
        map=read_map(map_path) if map_path is not None else MapFeatures.empty(),
        sdc_idx=int(av[0]) if av.size else None,
        extras={
            "focal_track_id": _track_number(where, str(columns["focal_track_id"][0])),
            "city": str(columns["city"][0]),
        },
    )


def map_features_by_type(scenario: Scenario) -> dict[str, int]:
    """Map feature counts keyed by AV2's own lower-case kind names (all four, zeros included):
    ``lane_segment``, ``lane_boundary``, ``pedestrian_crossing``, ``drivable_area``."""
    counts = np.bincount(scenario.map.types.astype(np.int64), minlength=max(MAP_KIND_NAMES) + 1)
    return {name: int(counts[map_type]) for map_type, name in MAP_KIND_NAMES.items()}


def read_scenario(directory: str | Path) -> Scenario:
    """Read one scenario directory (parquet + map JSON)."""
    directory = Path(directory)
    parquet_path = _one(directory, "scenario_*.parquet")
    map_path = _one(directory, "log_map_archive_*.json")
    return scenario_from_columns(read_tracks(parquet_path), str(parquet_path), map_path)


def iter_scenarios(
    path: str | Path, *, skip_errors: bool = False, report: LoadReport | None = None, **options
) -> Iterator[Scenario]:
    """Scenarios of a scenario directory, a root of scenario directories, or one scenario parquet.

    Raises :class:`DataError` on the first bad scenario, or with ``skip_errors`` records it in
    ``report`` (directory, scenario directory name, reason) and goes on. There are no options.
    """
    if options:
        raise ConfigError(f"av2 reader options: got {sorted(options)}; allowed: none")
    directories = scenario_dirs(path)
    if not directories:
        raise DataError(f"{path}: no AV2 scenario directory found")
    for directory in directories:
        try:
            scenario = read_scenario(directory)
        except DataError as err:
            if not skip_errors:
                raise
            if report is not None:
                report.skip(str(directory), directory.name, err)
            continue
        if report is not None:
            report.loaded += 1
        yield scenario

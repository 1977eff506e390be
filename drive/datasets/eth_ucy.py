"""ETH/UCY pedestrian files (``frame ped x y``, tab separated) -> one :class:`Scenario` per window.

Windowing is Social-GAN's ``TrajectoryDataset``: over the file's sorted unique frame ids, every run of
``num_observed_steps + num_future_steps`` (8 + 12 = 20) consecutive frames, stride 1, is a window.
A window's scenario holds every pedestrian seen in it (steps where one is absent are invalid); its
targets are the pedestrians present in all 20 frames. A window is kept when it has at least
``min_peds`` targets: the default 1 keeps every fully observed pedestrian (Trajectron++ protocol);
``min_peds=2`` reproduces Social-GAN's ``num_peds_considered > min_ped`` with its default
``min_ped=1``. Frames are 10 apart (0.4 s); a window whose frames are not evenly spaced (it straddles
a gap in the annotation) gets no targets, so it is dropped.

Velocities are finite differences and headings follow the velocity; both use observed steps only for
observed steps (see :func:`finite_difference_velocity`), so no future position reaches an input.
There is no map, no box (pedestrians get :data:`PEDESTRIAN_SIZE_M`) and no ego vehicle.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from drive.data.schema import AgentTracks, AgentType, MapFeatures, Scenario
from drive.datasets.base import LoadReport
from drive.errors import ConfigError, DataError

DT_S = 0.4
FRAME_STEP = 10
NUM_OBSERVED_STEPS = 8
NUM_FUTURE_STEPS = 12
MIN_SPEED_MPS = 0.1  # below this a pedestrian counts as standing and keeps its previous heading
PEDESTRIAN_SIZE_M = (0.5, 0.5, 1.75)  # nominal length, width, height; the data has no boxes
MAX_ID = 1e15  # ids stay exact in float64 and int64
MAX_ABS_COORD_M = 1e6  # ETH/UCY scenes span tens of metres; beyond this a value is garbage
SCENES: tuple[str, ...] = ("eth", "hotel", "univ", "zara1", "zara2")
SPLITS: tuple[str, ...] = ("train", "val", "test")


def eth_ucy_split(root: str | Path, scene: str, split: str) -> list[Path]:
    """Files of the leave-one-out split: ``root/<scene>/<split>/*.txt`` sorted by name.

    ``scene`` in :data:`SCENES` names the held-out test scene; ``split`` in :data:`SPLITS`.
    """
    if scene not in SCENES:
        raise ConfigError(f"scene: got {scene!r}; allowed: {', '.join(SCENES)}")
    if split not in SPLITS:
        raise ConfigError(f"split: got {split!r}; allowed: {', '.join(SPLITS)}")
    directory = Path(root) / scene / split
    files = sorted(directory.glob("*.txt")) if directory.is_dir() else []
    if not files:
        raise DataError(f"{directory}: no ETH/UCY .txt files (expected <root>/<scene>/<split>/*.txt)")
    return files


def _parse_line(line: str) -> list[float] | None:
    fields = line.split()
    if len(fields) != 4:
        return None
    try:
        values = [float(f) for f in fields]
    except ValueError:
        return None
    return values


def read_rows(path: str | Path, *, skip_errors: bool = False, report: LoadReport | None = None) -> np.ndarray:
    """Rows ``[N, 4]`` float64 (frame, ped, x m, y m) of one file; blank lines are ignored.

    A row with a wrong column count, a non-numeric, non-finite or non-integer id, a non-finite
    coordinate, or a repeated (frame, ped) pair raises :class:`DataError` naming file and line, or with
    ``skip_errors`` is recorded in ``report`` and left out.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the ETH/UCY file ({err})") from err
    rows: list[list[float]] = []
    seen: dict[tuple[float, float], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        values = _parse_line(line)
        problem = None
        if values is None:
            problem = "expected 4 numeric columns 'frame ped x y'"
        elif not all(math.isfinite(v) for v in values):
            problem = "non-finite value"
        elif not all(abs(v) <= MAX_ABS_COORD_M for v in values[2:]):
            # would overflow float32 (or is garbage in any case) and fail later without a line number
            problem = f"coordinate beyond {MAX_ABS_COORD_M:,.0f} m"
        elif not all(v == round(v) and abs(v) < MAX_ID for v in values[:2]):
            problem = f"frame and pedestrian ids must be integers of magnitude below {MAX_ID:.0e}"
        elif (values[0], values[1]) in seen:
            problem = (
                f"pedestrian {values[1]:g} repeats frame {values[0]:g} of line {seen[values[0], values[1]]}"
            )
        if problem is not None:
            error = DataError(f"{path}: line {number}: {problem}, got {line.strip()[:80]!r}")
            if not skip_errors:
                raise error
            if report is not None:
                report.skip(str(path), f"line {number}", error)
            continue
        seen[values[0], values[1]] = number
        rows.append(values)
    if not rows:
        raise DataError(f"{path}: no data rows")
    return np.array(rows, np.float64)


def finite_difference_velocity(
    position: np.ndarray, valid: np.ndarray, current_step: int, dt_s: float
) -> np.ndarray:
    """Velocity ``[A, T, 2]`` m/s from ``position [A, T, 2]`` m and ``valid [A, T]``.

    Backward difference where the previous step is valid; at a track's first step a forward
    difference, but only to a step on the same side of ``current_step`` (never history from future);
    zero otherwise and at invalid steps.
    """
    velocity = np.zeros_like(position)
    step_delta = (position[:, 1:] - position[:, :-1]) / dt_s  # (A, T-1, 2)
    both = valid[:, 1:] & valid[:, :-1]  # (A, T-1)
    velocity[:, 1:][both] = step_delta[both]
    first = valid[:, :-1] & ~np.concatenate([np.zeros_like(valid[:, :1]), valid[:, :-2]], 1)
    first &= both
    first[:, current_step] = False  # the current step's forward neighbour is future
    velocity[:, :-1][first] = step_delta[first]
    return velocity


def _fill_headings(raw: np.ndarray, moving: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Carry the last moving heading forward over ``raw/moving [A, S]``; steps before the first
    moving one take that first heading, or ``initial [A]`` (NaN when unknown -> 0)."""
    filled = np.empty_like(raw)
    carry = initial.copy()
    for s in range(raw.shape[1]):
        carry = np.where(moving[:, s], raw[:, s], carry)
        filled[:, s] = carry
    first_moving = np.where(moving.any(1), raw[np.arange(len(raw)), moving.argmax(1)], 0.0)
    leading = np.isnan(filled)
    return np.where(leading, first_moving[:, None], filled)


def heading_from_velocity(
    velocity: np.ndarray, valid: np.ndarray, current_step: int, min_speed_mps: float = MIN_SPEED_MPS
) -> np.ndarray:
    """Heading ``[A, T]`` rad (fp32, [-pi, pi)) = direction of ``velocity [A, T, 2]``; a standing
    pedestrian (speed < ``min_speed_mps``) keeps its previous heading. History and future are filled
    separately so that future velocities never set a history heading; zero at invalid steps."""
    raw = np.arctan2(velocity[..., 1], velocity[..., 0])
    moving = valid & (np.linalg.norm(velocity, axis=-1) >= min_speed_mps)
    c = current_step + 1
    unknown = np.full(len(raw), np.nan)
    history = _fill_headings(raw[:, :c], moving[:, :c], unknown)
    last = np.where(moving[:, :c].any(1), history[:, -1], np.nan)
    future = _fill_headings(raw[:, c:], moving[:, c:], last)
    heading = np.concatenate([history, future], 1)
    heading = np.remainder(heading + math.pi, 2 * math.pi) - math.pi
    return np.where(valid, heading, 0.0).astype(np.float32)


def window_scenarios(
    rows: np.ndarray,
    name: str,
    *,
    min_peds: int = 1,
    num_observed_steps: int = NUM_OBSERVED_STEPS,
    num_future_steps: int = NUM_FUTURE_STEPS,
    frame_step: int = FRAME_STEP,
    dt_s: float = DT_S,
) -> Iterator[Scenario]:
    """Scenarios of the windows of one file's ``rows [N, 4]`` (see the module docstring); ``name``
    (the file stem) prefixes the scenario ids ``<name>/<first frame>``."""
    _check_options(min_peds, num_observed_steps, num_future_steps, frame_step, dt_s)
    num_steps = num_observed_steps + num_future_steps
    current_step = num_observed_steps - 1
    frames, frame_idx = np.unique(rows[:, 0], return_inverse=True)
    peds, ped_idx = np.unique(rows[:, 1], return_inverse=True)
    present = np.zeros((len(peds), len(frames)), bool)  # (N_peds, F)
    present[ped_idx, frame_idx] = True
    xy = np.zeros((len(peds), len(frames), 2), np.float64)  # (N_peds, F, 2)
    xy[ped_idx, frame_idx] = rows[:, 2:4]
    for start in range(len(frames) - num_steps + 1):
        window = slice(start, start + num_steps)
        if np.any(np.diff(frames[window]) != frame_step):
            continue
        valid = present[:, window]  # (N_peds, T)
        is_target = valid.all(1)
        if is_target.sum() < min_peds:
            continue
        in_window = np.flatnonzero(valid.any(1))
        valid = valid[in_window]
        position = xy[in_window, window]  # (A, T, 2)
        velocity = finite_difference_velocity(position, valid, current_step, dt_s)
        first_frame = int(frames[start])
        yield Scenario(
            scenario_id=f"{name}/{first_frame}",
            source="eth_ucy",
            dt_s=dt_s,
            current_step=current_step,
            agents=AgentTracks(
                ids=peds[in_window].astype(np.int64),
                types=np.full(len(in_window), AgentType.PEDESTRIAN, np.int8),
                position=position.astype(np.float32),
                heading=heading_from_velocity(velocity, valid, current_step),
                velocity=velocity.astype(np.float32),
                size=np.tile(np.array(PEDESTRIAN_SIZE_M, np.float32), (len(in_window), 1)),
                valid=valid,
            ),
            target_idx=np.flatnonzero(is_target[in_window]).astype(np.int64),
            map=MapFeatures.empty(),
            extras={"file": name, "first_frame": first_frame},
        )


def _check_options(
    min_peds: int, num_observed_steps: int, num_future_steps: int, frame_step: int, dt_s: float
) -> None:
    for field_name, value in (
        ("min_peds", min_peds),
        ("num_observed_steps", num_observed_steps),
        ("num_future_steps", num_future_steps),
        ("frame_step", frame_step),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{field_name}: got {value!r}; allowed: an integer >= 1")
    if not (isinstance(dt_s, int | float) and math.isfinite(dt_s) and dt_s > 0):
        raise ConfigError(f"dt_s: got {dt_s!r}; allowed: a positive number of seconds")


def map_features_by_type(scenario: Scenario) -> dict[str, int]:
    """ETH/UCY has no map: always empty."""
    return {}


WINDOW_OPTIONS = ("min_peds", "num_observed_steps", "num_future_steps", "frame_step", "dt_s")


def _looks_like_eth_ucy(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return _parse_line(line) is not None
    except (OSError, UnicodeDecodeError):
        return False
    return False


def files(path: str | Path, scene: str | None = None, split: str | None = None) -> list[Path]:
    """The ``.txt`` files to read: ``path`` itself, every ``.txt`` below a directory (sorted), or,
    with ``scene`` and ``split``, :func:`eth_ucy_split` of ``path``."""
    path = Path(path)
    if scene is not None or split is not None:
        return eth_ucy_split(path, scene or "", split or "")
    if path.is_file():
        return [path]
    found = sorted(path.rglob("*.txt")) if path.is_dir() else []
    if not found:
        raise DataError(f"{path}: no ETH/UCY .txt files")
    return found


def detect(path: str | Path) -> bool:
    """True for a ``.txt`` file whose first row is ``frame ped x y``, or a directory holding one."""
    path = Path(path)
    if path.is_file():
        return path.suffix == ".txt" and _looks_like_eth_ucy(path)
    if path.is_dir():
        first = next(iter(sorted(path.rglob("*.txt"))), None)
        return first is not None and _looks_like_eth_ucy(first)
    return False


def iter_scenarios(
    path: str | Path,
    *,
    skip_errors: bool = False,
    report: LoadReport | None = None,
    scene: str | None = None,
    split: str | None = None,
    **options,
) -> Iterator[Scenario]:
    """Window scenarios of a file, a directory of files, or (``scene``, ``split``) of a split root.

    ``options`` go to :func:`window_scenarios` (``min_peds``, ``num_observed_steps``, ...). Bad rows
    raise :class:`DataError`, or with ``skip_errors`` are recorded in ``report`` and left out; an
    unreadable or empty file is then skipped whole.
    """
    unknown = sorted(set(options) - set(WINDOW_OPTIONS))
    if unknown:
        raise ConfigError(f"eth_ucy reader options: got {unknown}; allowed: {', '.join(WINDOW_OPTIONS)}")
    for file in files(path, scene, split):
        try:
            rows = read_rows(file, skip_errors=skip_errors, report=report)
        except DataError as err:
            if not skip_errors:
                raise
            if report is not None:
                report.skip(str(file), "file", err)
            continue
        for scenario in window_scenarios(rows, file.stem, **options):
            if report is not None:
                report.loaded += 1
            yield scenario

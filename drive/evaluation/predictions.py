"""The predictions file: what a model predicted for the target agents of each scenario.

Our own format is one ``.npz`` (no pickled objects) holding every scenario's predictions
concatenated along the agent axis; ``load_predictions`` also reads the official submission formats
(WOMD ``MotionChallengeSubmission`` ``.tar.gz`` / ``.binproto``, Argoverse 2 ``.parquet``) by suffix.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drive.errors import DataError

FORMAT_NAME = "drive-predictions"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ScenarioPrediction:
    """Predictions for the agents of one scenario.

    agent_ids ``[N]`` int64 (the scenario's agent ids); trajectory ``[N, K, Tf, 2]`` float32 positions in
    the dataset's own (world / scene) frame, metres, one row per future step at the dataset's rate (a
    WOMD submission's 16 samples at 2 Hz are the exception, see docs/evaluation.md); probability
    ``[N, K]`` float32, each row sums to 1; heading ``[N, K, Tf]`` rad or None. confidence ``[N, K]``
    (optional) keeps the raw, unnormalised scores of a file that had them (a WOMD submission): WOMD mAP
    ranks modes of different objects by these, as the official metrics do; None means ``probability``.
    """

    scenario_id: str
    agent_ids: np.ndarray
    trajectory: np.ndarray
    probability: np.ndarray
    heading: np.ndarray | None = None
    confidence: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_modes(self) -> int:
        return int(self.trajectory.shape[1])

    @property
    def num_future_steps(self) -> int:
        return int(self.trajectory.shape[2])

    def validate(self) -> None:
        where = f"predictions for scenario {self.scenario_id!r}"
        n = len(self.agent_ids)
        if self.agent_ids.ndim != 1 or self.agent_ids.dtype.kind not in "iu":
            raise DataError(f"{where}: field 'agent_ids': expected [N] integers, got {self.agent_ids.dtype}")
        if len(np.unique(self.agent_ids)) != n:
            raise DataError(f"{where}: field 'agent_ids': duplicate agent ids")
        if self.trajectory.ndim != 4 or self.trajectory.shape[0] != n or self.trajectory.shape[-1] != 2:
            raise DataError(
                f"{where}: field 'trajectory': expected shape [{n}, K, Tf, 2], got {self.trajectory.shape}"
            )
        k = self.trajectory.shape[1]
        if self.probability.shape != (n, k):
            raise DataError(
                f"{where}: field 'probability': expected shape [{n}, {k}], got {self.probability.shape}"
            )
        if self.heading is not None and self.heading.shape != self.trajectory.shape[:3]:
            raise DataError(
                f"{where}: field 'heading': expected shape {self.trajectory.shape[:3]}, "
                f"got {self.heading.shape}"
            )
        if self.heading is not None and not np.all(np.isfinite(self.heading)):
            raise DataError(f"{where}: field 'heading': non-finite value")
        if self.confidence is not None and (
            self.confidence.shape != (n, k) or not np.all(np.isfinite(self.confidence))
        ):
            raise DataError(f"{where}: field 'confidence': expected finite values of shape [{n}, {k}]")
        if not np.all(np.isfinite(self.trajectory)):
            raise DataError(f"{where}: field 'trajectory': non-finite value")
        if n and (np.any(self.probability < 0) or not np.allclose(self.probability.sum(-1), 1.0, atol=1e-3)):
            raise DataError(f"{where}: field 'probability': rows must be non-negative and sum to 1")


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_predictions(path: str | Path, predictions: Iterable[ScenarioPrediction]) -> None:
    """Write ``predictions`` to ``path`` (``.npz``, atomic). All scenarios must share K and Tf."""
    predictions = list(predictions)
    path = Path(path)
    if not predictions:
        raise DataError(f"{path}: no predictions to save")
    first = predictions[0]
    for p in predictions:
        if (p.num_modes, p.num_future_steps) != (first.num_modes, first.num_future_steps):
            raise DataError(
                f"{path}: scenario {p.scenario_id!r} has K={p.num_modes}, Tf={p.num_future_steps}; "
                f"the file holds K={first.num_modes}, Tf={first.num_future_steps} for every scenario"
            )
        for name in ("heading", "confidence"):
            if (getattr(p, name) is not None) != (getattr(first, name) is not None):
                raise DataError(
                    f"{path}: scenario {p.scenario_id!r}: {name} must be given for all scenarios or none"
                )
    ids = [p.scenario_id for p in predictions]
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: duplicate scenario ids in predictions")
    arrays = {
        "format": np.array(FORMAT_NAME),
        "version": np.array(FORMAT_VERSION),
        "scenario_ids": np.array(ids, dtype=str),
        "agent_offsets": np.cumsum([0] + [len(p.agent_ids) for p in predictions]).astype(np.int64),
        "agent_ids": np.concatenate([p.agent_ids.astype(np.int64) for p in predictions]),
        "trajectory": np.concatenate([p.trajectory.astype(np.float32) for p in predictions]),
        "probability": np.concatenate([p.probability.astype(np.float32) for p in predictions]),
    }
    for name in ("heading", "confidence"):
        if getattr(first, name) is not None:
            arrays[name] = np.concatenate([getattr(p, name).astype(np.float32) for p in predictions])
    _atomic_write(path, lambda handle: np.savez(handle, **arrays))


def _load_npz(path: Path) -> list[ScenarioPrediction]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable predictions .npz: {err}") from err
    if str(arrays.get("format", "")) != FORMAT_NAME:
        raise DataError(f"{path}: not a {FORMAT_NAME} file (missing or wrong 'format' entry)")
    _check_npz_layout(path, arrays)
    if int(arrays["version"]) != FORMAT_VERSION:
        raise DataError(
            f"{path}: predictions format version {int(arrays['version'])}, expected {FORMAT_VERSION}"
        )
    offsets, heading, confidence = arrays["agent_offsets"], arrays.get("heading"), arrays.get("confidence")
    return [
        ScenarioPrediction(
            scenario_id=str(sid),
            agent_ids=arrays["agent_ids"][a:b],
            trajectory=arrays["trajectory"][a:b],
            probability=arrays["probability"][a:b],
            heading=None if heading is None else heading[a:b],
            confidence=None if confidence is None else confidence[a:b],
        )
        for sid, a, b in zip(arrays["scenario_ids"], offsets[:-1], offsets[1:])
    ]


def load_predictions(path: str | Path) -> list[ScenarioPrediction]:
    """Read a predictions file: ours (``.npz``), a WOMD submission (``.tar.gz``, ``.tgz``, ``.binproto``,
    ``.bin``) or an Argoverse 2 submission (``.parquet``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such predictions file")
    name = path.name.lower()
    if name.endswith(".npz"):
        return _load_npz(path)
    from drive.evaluation import submission

    if name.endswith((".tar.gz", ".tgz", ".binproto", ".bin")):
        return submission.load_womd_submission(path)
    if name.endswith(".parquet"):
        return submission.load_av2_submission(path)
    raise DataError(
        f"{path}: unknown predictions format; expected .npz, a WOMD submission "
        "(.tar.gz, .tgz, .binproto, .bin) or an Argoverse 2 submission (.parquet)"
    )


# entry -> (dtype kinds allowed, number of dimensions); optional entries may be absent.
_NPZ_LAYOUT = {
    "version": ("iu", 0),
    "scenario_ids": ("U", 1),
    "agent_offsets": ("iu", 1),
    "agent_ids": ("iu", 1),
    "trajectory": ("f", 4),
    "probability": ("f", 2),
}
_NPZ_OPTIONAL = {"heading": ("f", 3), "confidence": ("f", 2)}


def _check_npz_layout(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Every entry present with its dtype and rank, and offsets that index the agent rows, so a damaged
    file fails here naming the entry rather than inside the slicing below."""
    for name, (kinds, ndim) in (_NPZ_LAYOUT | _NPZ_OPTIONAL).items():
        if name not in arrays:
            if name in _NPZ_OPTIONAL:
                continue
            raise DataError(f"{path}: entry {name!r} is missing")
        value = arrays[name]
        if value.dtype.kind not in kinds or value.ndim != ndim:
            raise DataError(
                f"{path}: entry {name!r}: expected a {ndim}-d array of kind {kinds!r}, got "
                f"{value.ndim}-d {value.dtype}"
            )
    offsets, num_rows = arrays["agent_offsets"], len(arrays["agent_ids"])
    if (
        len(offsets) != len(arrays["scenario_ids"]) + 1
        or offsets[0] != 0
        or offsets[-1] != num_rows
        or (np.diff(offsets) < 0).any()
    ):
        raise DataError(
            f"{path}: entry 'agent_offsets': must rise from 0 to the {num_rows} agent rows, one step per "
            f"scenario ({len(arrays['scenario_ids'])}), got {offsets.tolist()[:8]}"
        )
    for name in ("trajectory", "probability", "heading", "confidence"):
        if name in arrays and len(arrays[name]) != num_rows:
            raise DataError(f"{path}: entry {name!r}: {len(arrays[name])} rows, expected {num_rows}")

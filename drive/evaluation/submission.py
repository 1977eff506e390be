"""Official submission formats: WOMD ``MotionChallengeSubmission`` (tar.gz) and the Argoverse 2 parquet.

WOMD (motion prediction challenge): each scenario's ``SingleObjectPrediction`` holds up to 6
``ScoredTrajectory`` with exactly 16 positions at 2 Hz, the first 0.5 s after the current step (track
step 15), the last at 8 s; confidences need not be normalised. Predictions at the 10 Hz track rate
(Tf >= 80) are subsampled at future steps 5, 10, ..., 80; 16-step predictions are taken as 2 Hz.
The archive holds serialized ``MotionChallengeSubmission`` shards, as the challenge expects.

Argoverse 2: one row per (scenario, track, mode) with columns ``scenario_id``, ``track_id``,
``probability``, ``predicted_trajectory_x``, ``predicted_trajectory_y`` (60 values each, 10 Hz, 6 s),
as ``av2.datasets.motion_forecasting.eval.submission.ChallengeSubmission`` reads and writes them.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drive.errors import DataError, missing_extra
from drive.evaluation.predictions import ScenarioPrediction, _atomic_write

WOMD_NUM_SAMPLES = 16
WOMD_STRIDE = 5
WOMD_MAX_TRAJECTORIES = 6
AV2_NUM_STEPS = 60
AV2_COLUMNS = ("scenario_id", "track_id", "probability", "predicted_trajectory_x", "predicted_trajectory_y")


@dataclass(frozen=True)
class WOMDSubmissionInfo:
    """Header fields of a ``MotionChallengeSubmission`` (see the challenge page)."""

    account_name: str = ""
    unique_method_name: str = ""
    authors: tuple[str, ...] = ()
    affiliation: str = ""
    description: str = ""
    method_link: str = ""
    uses_lidar_data: bool = False
    uses_camera_data: bool = False
    uses_public_model_pretraining: bool = False
    public_model_names: tuple[str, ...] = field(default_factory=tuple)
    num_model_parameters: str = ""


def _submission_pb2():
    try:
        from waymo_open_dataset.protos import motion_submission_pb2
    except ImportError as err:
        raise missing_extra("waymo-open-dataset-tf-2-12-0", "womd") from err
    return motion_submission_pb2


def womd_samples(prediction: ScenarioPrediction) -> np.ndarray:
    """The 16 2-Hz samples ``[N, K, 16, 2]`` of a prediction (see module doc)."""
    steps = prediction.num_future_steps
    if steps == WOMD_NUM_SAMPLES:
        return prediction.trajectory
    if steps >= WOMD_NUM_SAMPLES * WOMD_STRIDE:
        return prediction.trajectory[:, :, WOMD_STRIDE - 1 : WOMD_NUM_SAMPLES * WOMD_STRIDE : WOMD_STRIDE]
    raise DataError(
        f"predictions for scenario {prediction.scenario_id!r}: {steps} future steps; a WOMD submission needs "
        f"{WOMD_NUM_SAMPLES} steps at 2 Hz or >= {WOMD_NUM_SAMPLES * WOMD_STRIDE} steps at 10 Hz"
    )


def _scenario_proto(pb2, prediction: ScenarioPrediction):
    proto = pb2.ChallengeScenarioPredictions(scenario_id=prediction.scenario_id)
    samples = womd_samples(prediction)
    scores = prediction.confidence if prediction.confidence is not None else prediction.probability
    for n, agent_id in enumerate(prediction.agent_ids):
        if not -(2**31) <= int(agent_id) < 2**31:
            raise DataError(
                f"predictions for scenario {prediction.scenario_id!r}: agent id {int(agent_id)} does not fit "
                "the submission's int32 object_id"
            )
        single = proto.single_predictions.predictions.add(object_id=int(agent_id))
        order = np.argsort(-prediction.probability[n], kind="stable")[:WOMD_MAX_TRAJECTORIES]
        for k in order:
            scored = single.trajectories.add(confidence=float(scores[n, k]))
            scored.trajectory.center_x.extend(samples[n, k, :, 0].tolist())
            scored.trajectory.center_y.extend(samples[n, k, :, 1].tolist())
    return proto


def save_womd_submission(
    path: str | Path,
    predictions: Iterable[ScenarioPrediction],
    info: WOMDSubmissionInfo | None = None,
    *,
    scenarios_per_shard: int = 5000,
) -> None:
    """Write a WOMD motion-prediction submission archive (``.tar.gz``, atomic).

    The 6 most probable modes per object are kept, most probable first; confidence = the prediction's raw
    ``confidence`` when it has one, else its probability.
    """
    pb2 = _submission_pb2()
    info = info or WOMDSubmissionInfo()
    protos = [_scenario_proto(pb2, p) for p in predictions]
    shards = [protos[i : i + scenarios_per_shard] for i in range(0, len(protos), scenarios_per_shard)] or [[]]

    def write(handle) -> None:
        with tarfile.open(fileobj=handle, mode="w:gz") as tar:
            for index, shard in enumerate(shards):
                submission = pb2.MotionChallengeSubmission(
                    account_name=info.account_name,
                    unique_method_name=info.unique_method_name,
                    authors=list(info.authors),
                    affiliation=info.affiliation,
                    description=info.description,
                    method_link=info.method_link,
                    submission_type=pb2.MotionChallengeSubmission.MOTION_PREDICTION,
                    uses_lidar_data=info.uses_lidar_data,
                    uses_camera_data=info.uses_camera_data,
                    uses_public_model_pretraining=info.uses_public_model_pretraining,
                    public_model_names=list(info.public_model_names),
                    num_model_parameters=info.num_model_parameters,
                    scenario_predictions=shard,
                )
                payload = submission.SerializeToString()
                member = tarfile.TarInfo(f"submission.binproto-{index:05d}-of-{len(shards):05d}")
                member.size = len(payload)
                tar.addfile(member, io.BytesIO(payload))

    _atomic_write(Path(path), write)


def _from_scenario_proto(proto, where: str) -> ScenarioPrediction:
    if proto.HasField("joint_prediction"):
        raise DataError(
            f"{where}: scenario {proto.scenario_id!r}: joint (interaction) predictions are not supported"
        )
    ids, trajectories, confidences = [], [], []
    for single in proto.single_predictions.predictions:
        traj = [np.stack([t.trajectory.center_x, t.trajectory.center_y], -1) for t in single.trajectories]
        if not traj or any(t.shape != (WOMD_NUM_SAMPLES, 2) for t in traj):
            raise DataError(
                f"{where}: scenario {proto.scenario_id!r}, object {single.object_id}: expected 1..6 "
                f"trajectories of {WOMD_NUM_SAMPLES} positions"
            )
        ids.append(single.object_id)
        trajectories.append(np.stack(traj))
        confidences.append(np.array([t.confidence for t in single.trajectories], np.float64))
    if len({len(c) for c in confidences}) > 1:
        raise DataError(
            f"{where}: scenario {proto.scenario_id!r}: objects have different numbers of trajectories"
        )
    confidence = np.stack(confidences) if confidences else np.zeros((0, 1))
    total = confidence.sum(-1, keepdims=True)
    # As GetNormalizedConfidences: divide by the sum, uniform when all confidences are 0.
    probability = np.where(total > 0, confidence / np.where(total > 0, total, 1), 1.0 / confidence.shape[-1])
    return ScenarioPrediction(
        scenario_id=proto.scenario_id,
        agent_ids=np.array(ids, np.int64),
        trajectory=np.stack(trajectories).astype(np.float32) if ids else np.zeros((0, 1, 16, 2), np.float32),
        probability=probability.astype(np.float32),
        confidence=confidence.astype(np.float32),
    )


def load_womd_submission(path: str | Path) -> list[ScenarioPrediction]:
    """Read a WOMD motion-prediction submission: a ``.tar.gz`` of serialized shards or one shard file."""
    pb2 = _submission_pb2()
    path = Path(path)
    payloads: list[tuple[str, bytes]] = []
    if tarfile.is_tarfile(path):
        with tarfile.open(path, "r:*") as tar:
            for member in sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name):
                payloads.append((f"{path}:{member.name}", tar.extractfile(member).read()))
    else:
        payloads.append((str(path), path.read_bytes()))
    result: list[ScenarioPrediction] = []
    for where, payload in payloads:
        submission = pb2.MotionChallengeSubmission()
        try:
            submission.ParseFromString(payload)
        except Exception as err:  # protobuf raises DecodeError on foreign bytes
            raise DataError(f"{where}: not a serialized MotionChallengeSubmission ({err})") from err
        result.extend(_from_scenario_proto(p, where) for p in submission.scenario_predictions)
    return result


def _av2_track_id(agent_id: int) -> str:
    from drive.datasets.av2 import AV_AGENT_ID, AV_TRACK_ID

    return AV_TRACK_ID if agent_id == AV_AGENT_ID else str(agent_id)


def _av2_agent_id(track_id: str, where: str) -> int:
    from drive.datasets.av2 import AV_AGENT_ID, AV_TRACK_ID

    if track_id == AV_TRACK_ID:
        return AV_AGENT_ID
    try:
        return int(track_id)
    except ValueError as err:
        raise DataError(f"{where}: column 'track_id': non-numeric track id {track_id!r}") from err


def save_av2_submission(path: str | Path, predictions: Iterable[ScenarioPrediction]) -> None:
    """Write an Argoverse 2 submission parquet (atomic). Every trajectory must have 60 steps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows: dict[str, list] = {name: [] for name in AV2_COLUMNS}
    for p in predictions:
        if p.num_future_steps != AV2_NUM_STEPS:
            raise DataError(
                f"predictions for scenario {p.scenario_id!r}: {p.num_future_steps} future steps; "
                f"an Argoverse 2 submission needs {AV2_NUM_STEPS}"
            )
        for n, agent_id in enumerate(p.agent_ids):
            for k in range(p.num_modes):
                rows["scenario_id"].append(p.scenario_id)
                rows["track_id"].append(_av2_track_id(int(agent_id)))
                rows["probability"].append(float(p.probability[n, k]))
                rows["predicted_trajectory_x"].append(p.trajectory[n, k, :, 0].astype(np.float64))
                rows["predicted_trajectory_y"].append(p.trajectory[n, k, :, 1].astype(np.float64))
    table = pa.table(
        {
            "scenario_id": pa.array(rows["scenario_id"], pa.string()),
            "track_id": pa.array(rows["track_id"], pa.string()),
            "probability": pa.array(rows["probability"], pa.float64()),
            "predicted_trajectory_x": pa.array(rows["predicted_trajectory_x"], pa.list_(pa.float64())),
            "predicted_trajectory_y": pa.array(rows["predicted_trajectory_y"], pa.list_(pa.float64())),
        }
    )
    _atomic_write(Path(path), lambda handle: pq.write_table(table, handle))


def load_av2_submission(path: str | Path) -> list[ScenarioPrediction]:
    """Read an Argoverse 2 submission parquet; modes keep their row order, probabilities are renormalised
    per track."""
    import pyarrow.parquet as pq

    where = str(path)
    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several types on foreign bytes
        raise DataError(f"{where}: cannot read the parquet file ({type(err).__name__}: {err})") from err
    missing = [c for c in AV2_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(map(repr, missing))}")
    columns = {c: table.column(c).to_pylist() for c in AV2_COLUMNS}
    grouped: dict[str, dict[int, list[int]]] = {}
    for row, (sid, tid) in enumerate(zip(columns["scenario_id"], columns["track_id"])):
        grouped.setdefault(sid, {}).setdefault(_av2_agent_id(tid, where), []).append(row)
    result = []
    for sid, tracks in grouped.items():
        if len({len(r) for r in tracks.values()}) > 1:
            raise DataError(f"{where}: scenario {sid!r}: tracks have different numbers of modes")
        traj = np.array(
            [
                [
                    np.stack([columns["predicted_trajectory_x"][r], columns["predicted_trajectory_y"][r]], -1)
                    for r in rows
                ]
                for rows in tracks.values()
            ],
            np.float32,
        )  # (N, K, T, 2)
        prob = np.array([[columns["probability"][r] for r in rows] for rows in tracks.values()], np.float64)
        prob = prob / np.clip(prob.sum(-1, keepdims=True), 1e-12, None)
        result.append(
            ScenarioPrediction(sid, np.array(list(tracks), np.int64), traj, prob.astype(np.float32))
        )
    return result

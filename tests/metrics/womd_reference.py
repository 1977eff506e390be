"""A random WOMD-layout case and the official TF op's metrics on it.

``make_case(seed)`` (numpy only) builds agents, targets and 2 Hz predictions. Run this file with a
Python that has ``tensorflow-cpu==2.13.1`` and ``waymo-open-dataset-tf-2-12-0==1.6.7`` (``--no-deps``;
despite its name it is built against TF 2.13) to (re)write ``data/womd_official_reference.json``::

    python tests/metrics/womd_reference.py tests/metrics/data/womd_official_reference.json \
        ../shared/data/womd/motion_data_one_scenario.tfrecord

The test ``test_womd_official.py`` rebuilds the same cases and compares our evaluator with it.
"""

from __future__ import annotations

import json
import sys

import numpy as np

NUM_AGENTS, NUM_STEPS, CURRENT_STEP, NUM_TARGETS, NUM_MODES = 10, 91, 10, 6, 6
WOMD_TYPES = (1, 2, 3)  # vehicle, pedestrian, cyclist in the proto's numbering
SIZE_LW = {1: (4.5, 2.0), 2: (0.8, 0.8), 3: (1.8, 0.8)}
MAX_SPEED = {1: 15.0, 2: 2.0, 3: 7.0}
SEEDS = (0, 1, 2, 3, 4, 5, 6, 7, 100, 101, 102, 103)
RAW_SCORE_SEEDS = (100, 101, 102, 103)  # scores not normalised per object, as many submissions


def make_case(seed: int) -> dict[str, np.ndarray]:
    """Agents driving arcs in a 40 m square (so some boxes meet), some future steps missing, and
    predictions = ground-truth 2 Hz samples plus noise of a per-mode scale."""
    rng = np.random.default_rng(seed)
    types = rng.choice(WOMD_TYPES, size=NUM_AGENTS)
    speed0 = np.array([rng.uniform(0.0, MAX_SPEED[t]) for t in types])
    accel = rng.uniform(-1.0, 1.0, NUM_AGENTS)
    yaw_rate = rng.uniform(-0.25, 0.25, NUM_AGENTS)
    heading0 = rng.uniform(-np.pi, np.pi, NUM_AGENTS)
    t = (np.arange(NUM_STEPS) - CURRENT_STEP) * 0.1
    speed = np.clip(speed0[:, None] + accel[:, None] * np.maximum(t, 0), 0.0, None)  # (A, T)
    heading = heading0[:, None] + yaw_rate[:, None] * t  # (A, T)
    velocity = np.stack([speed * np.cos(heading), speed * np.sin(heading)], -1)  # (A, T, 2)
    position = rng.uniform(-20, 20, (NUM_AGENTS, 1, 2)) + np.cumsum(velocity * 0.1, axis=1)
    position -= position[:, CURRENT_STEP : CURRENT_STEP + 1] - rng.uniform(-20, 20, (NUM_AGENTS, 1, 2))
    valid = rng.random((NUM_AGENTS, NUM_STEPS)) > 0.05
    valid[:, CURRENT_STEP] = True
    size = np.array([SIZE_LW[t] for t in types])
    samples = position[:NUM_TARGETS, CURRENT_STEP + 5 :: 5]  # (N, 16, 2)
    noise_scale = rng.uniform(0.1, 6.0, (NUM_TARGETS, NUM_MODES, 1, 1))
    prediction = samples[:, None] + rng.normal(size=(NUM_TARGETS, NUM_MODES, 16, 2)) * noise_scale
    score = rng.uniform(0.05, 1.0, (NUM_TARGETS, NUM_MODES))
    if seed not in RAW_SCORE_SEEDS:
        score /= score.sum(-1, keepdims=True)
    heading = (heading + np.pi) % (2 * np.pi) - np.pi
    return dict(
        types=types.astype(np.int64),
        position=position,
        heading=heading,
        velocity=velocity,
        valid=valid,
        size=size,
        prediction=prediction,
        score=score,
    )


def official_metrics(case: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``{"TYPE_VEHICLE_5": {"min_ade": ..., ...}, ...}`` from ``py_metrics_ops.motion_metrics``."""
    import tensorflow as tf
    from waymo_open_dataset.metrics.ops import py_metrics_ops
    from waymo_open_dataset.metrics.python import config_util_py
    from waymo_open_dataset.protos import motion_metrics_pb2

    config = motion_metrics_pb2.MotionMetricsConfig(
        track_steps_per_second=10,
        prediction_steps_per_second=2,
        track_history_samples=10,
        track_future_samples=80,
        speed_lower_bound=1.4,
        speed_upper_bound=11.0,
        speed_scale_lower=0.5,
        speed_scale_upper=1.0,
        max_predictions=6,
    )
    for step, lateral, longitudinal in ((5, 1.0, 2.0), (9, 1.8, 3.6), (15, 3.0, 6.0)):
        config.step_configurations.add(
            measurement_step=step, lateral_miss_threshold=lateral, longitudinal_miss_threshold=longitudinal
        )
    a, t = case["valid"].shape
    size = case["size"] if case["size"].ndim == 3 else np.broadcast_to(case["size"][:, None], (a, t, 2))
    gt = np.concatenate(
        [case["position"], size, case["heading"][..., None], case["velocity"]], -1
    )  # (A, T, 7): x, y, length, width, heading, vx, vy
    n = case["prediction"].shape[0]
    values = py_metrics_ops.motion_metrics(
        prediction_trajectory=tf.constant(
            case["prediction"][None, :, :, None], tf.float32
        ),  # (1, N, K, 1, 16, 2)
        prediction_score=tf.constant(case["score"][None], tf.float32),
        ground_truth_trajectory=tf.constant(gt[None], tf.float32),
        ground_truth_is_valid=tf.constant(case["valid"][None]),
        prediction_ground_truth_indices=tf.constant(
            case.get("targets", np.arange(n))[None, :, None], tf.int64
        ),
        prediction_ground_truth_indices_mask=tf.ones((1, n, 1), tf.bool),
        object_type=tf.constant(case["types"][None], tf.int64),
        config=config.SerializeToString(),
    )
    names = config_util_py.get_breakdown_names_from_motion_config(config)
    keys = ("min_ade", "min_fde", "miss_rate", "overlap_rate", "mean_average_precision")
    return {name: {k: float(v[i]) for k, v in zip(keys, values)} for i, name in enumerate(names)}


def real_sample_case(tfrecord_path: str) -> dict[str, np.ndarray]:
    """The recorded WOMD sample scenario with a constant-velocity forecast (from the last two observed
    positions, written independently of ``drive.evaluation.baselines``) for its tracks_to_predict."""
    from waymo_open_dataset.protos import scenario_pb2

    with open(tfrecord_path, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        handle.read(4)  # length CRC
        proto = scenario_pb2.Scenario.FromString(handle.read(length))
    fields = ("center_x", "center_y", "length", "width", "heading", "velocity_x", "velocity_y")
    state = np.array([[[getattr(s, f) for f in fields] for s in track.states] for track in proto.tracks])
    valid = np.array([[s.valid for s in track.states] for track in proto.tracks])
    targets = np.array([r.track_index for r in proto.tracks_to_predict])
    c = proto.current_time_index
    prediction = []
    for i in targets:
        observed = np.flatnonzero(valid[i, : c + 1])
        last, prev = observed[-1], observed[-2]
        step = (state[i, last, :2] - state[i, prev, :2]) / (last - prev)
        ahead = (c - last) + 5 * np.arange(1, 17)
        prediction.append(state[i, last, :2] + ahead[:, None] * step)
    return dict(
        types=np.array([track.object_type for track in proto.tracks], np.int64),
        position=state[..., :2],
        size=state[..., 2:4],
        heading=state[..., 4],
        velocity=state[..., 5:7],
        valid=valid,
        targets=targets,
        prediction=np.stack(prediction)[:, None],  # (N, 1, 16, 2)
        score=np.ones((len(targets), 1)),
    )


if __name__ == "__main__":
    reference = {str(seed): official_metrics(make_case(seed)) for seed in SEEDS}
    if len(sys.argv) > 2:  # the recorded sample: ../shared/data/womd/motion_data_one_scenario.tfrecord
        reference["real_sample_constant_velocity"] = official_metrics(real_sample_case(sys.argv[2]))
    with open(sys.argv[1], "w") as handle:
        json.dump(reference, handle, indent=1, sort_keys=True)

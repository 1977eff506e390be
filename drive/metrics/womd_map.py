"""WOMD mAP and soft mAP: trajectory-type buckets, per-object samples, average precision.

Transcribed from waymo-open-dataset ``metrics/motion_metrics_utils.cc`` (``ClassifyTrack``, the
March 2024 thresholds) and ``metrics/motion_metrics.cc`` (``ComputeMeanAveragePrecision``,
``ComputePrCurve``, ``ComputeMapMetric``):

- each object gets one bucket from its ground truth (current state -> last valid state);
  right U-turns are counted as right turns;
- its first K <= 6 modes, in descending confidence, become samples (confidence, true positive): a
  mode is a true positive if it matches (the miss-rate rule) and no more confident mode of the same
  object matched; later matches are false positives (mAP) or dropped (soft mAP);
- per bucket, samples of all objects are sorted by confidence (ties: false positives first), the
  precision/recall curve is made monotone from the right, and AP is the area under it;
- mAP is the mean AP over buckets that have samples.
"""

from __future__ import annotations

import enum
import math

import numpy as np
import torch
from torch import Tensor

MAX_SPEED_FOR_STATIONARY_MPS = 2.0
MAX_DISPLACEMENT_FOR_STATIONARY_M = 3.0
MAX_LATERAL_DISPLACEMENT_FOR_STRAIGHT_M = 2.5
MIN_LONGITUDINAL_DISPLACEMENT_FOR_U_TURN_M = 0.0
MAX_ABS_HEADING_DIFF_FOR_STRAIGHT_RAD = math.pi / 6.0


class TrajectoryType(enum.IntEnum):
    """The proto's ``TrajectoryType`` values."""

    STATIONARY = 0
    STRAIGHT = 1
    STRAIGHT_LEFT = 2
    STRAIGHT_RIGHT = 3
    LEFT_U_TURN = 4
    LEFT_TURN = 5
    RIGHT_U_TURN = 6
    RIGHT_TURN = 7


NUM_TRAJECTORY_TYPES = len(TrajectoryType)


def _normalize_angle(angle: np.ndarray) -> np.ndarray:
    """To (-pi, pi], as ``NormalizeAngle`` in the official math utilities."""
    wrapped = np.remainder(angle + np.pi, 2 * np.pi) - np.pi  # [-pi, pi)
    return np.where(wrapped == -np.pi, np.pi, wrapped)


def classify_trajectory(
    start_xy: np.ndarray,
    start_heading: np.ndarray,
    start_velocity: np.ndarray,
    end_xy: np.ndarray,
    end_heading: np.ndarray,
    end_velocity: np.ndarray,
) -> np.ndarray:
    """Trajectory type ``[N]`` int64 (:class:`TrajectoryType`) from start and end states.

    start/end xy ``[N, 2]`` m, heading ``[N]`` rad, velocity ``[N, 2]`` m/s. The start is the
    current state, the end the last valid future state (see :func:`classify_tracks`).
    """
    delta = end_xy - start_xy  # (N, 2)
    cos, sin = np.cos(start_heading), np.sin(start_heading)
    dx = cos * delta[:, 0] + sin * delta[:, 1]  # longitudinal in the start frame
    dy = -sin * delta[:, 0] + cos * delta[:, 1]  # lateral
    displacement_m = np.hypot(delta[:, 0], delta[:, 1])
    heading_diff = _normalize_angle(end_heading - start_heading)
    max_speed = np.maximum(np.hypot(*start_velocity.T), np.hypot(*end_velocity.T))

    turn_right = np.where(
        dx < MIN_LONGITUDINAL_DISPLACEMENT_FOR_U_TURN_M,
        TrajectoryType.RIGHT_U_TURN,
        TrajectoryType.RIGHT_TURN,
    )
    turn_left = np.where(
        dx < MIN_LONGITUDINAL_DISPLACEMENT_FOR_U_TURN_M, TrajectoryType.LEFT_U_TURN, TrajectoryType.LEFT_TURN
    )
    result = np.where(dy < 0, turn_right, turn_left)
    straight = np.where(
        np.abs(dy) < MAX_LATERAL_DISPLACEMENT_FOR_STRAIGHT_M,
        TrajectoryType.STRAIGHT,
        np.where(dy < 0, TrajectoryType.STRAIGHT_RIGHT, TrajectoryType.STRAIGHT_LEFT),
    )
    result = np.where(np.abs(heading_diff) < MAX_ABS_HEADING_DIFF_FOR_STRAIGHT_RAD, straight, result)
    stationary = (max_speed < MAX_SPEED_FOR_STATIONARY_MPS) & (
        displacement_m < MAX_DISPLACEMENT_FOR_STATIONARY_M
    )
    return np.where(stationary, TrajectoryType.STATIONARY, result).astype(np.int64)


def classify_tracks(
    position: np.ndarray, heading: np.ndarray, velocity: np.ndarray, valid: np.ndarray, current_step: int
) -> tuple[np.ndarray, np.ndarray]:
    """Trajectory type ``[N]`` and whether it exists ``[N]`` for whole tracks.

    position ``[N, T, 2]``, heading ``[N, T]``, velocity ``[N, T, 2]``, valid ``[N, T]``. A track has a
    type only if it is valid at ``current_step`` and at some later step (the last such is the end).
    """
    n, t = valid.shape
    steps = np.arange(t)
    future = valid & (steps > current_step)
    has_type = valid[:, current_step] & future.any(-1)
    last = np.where(future, steps, -1).max(-1).clip(min=0)
    rows = np.arange(n)
    types = classify_trajectory(
        position[:, current_step],
        heading[:, current_step],
        velocity[:, current_step],
        position[rows, last],
        heading[rows, last],
        velocity[rows, last],
    )
    return types, has_type


def bucket_of(trajectory_type: Tensor) -> Tensor:
    """mAP bucket: the trajectory type with right U-turns merged into right turns."""
    return torch.where(
        trajectory_type == TrajectoryType.RIGHT_U_TURN,
        torch.full_like(trajectory_type, int(TrajectoryType.RIGHT_TURN)),
        trajectory_type,
    )


def map_samples(matched: Tensor) -> tuple[Tensor, Tensor]:
    """True-positive flags ``[N, K]`` and soft-mAP keep flags ``[N, K]`` from ``matched [N, K]``.

    Modes must be sorted by descending confidence. A mode is a true positive when it matches and is the
    first matching mode; soft mAP keeps every mode except matches after the first.
    """
    first_match = matched & (matched.int().cumsum(-1) == 1)
    return first_match, ~(matched & ~first_match)


def average_precision(confidence: np.ndarray, true_positive: np.ndarray, num_objects: int) -> float:
    """Area under the monotone precision/recall curve of one bucket (``ComputeMeanAveragePrecision``).

    confidence, true_positive ``[S]`` samples; ``num_objects`` the number of objects that produced them.
    """
    if confidence.size == 0:
        return 0.0
    # Sort by descending confidence, false positives first among equal confidences.
    order = np.lexsort((true_positive.astype(np.int8), -confidence.astype(np.float64)))
    tp_cum = np.cumsum(true_positive[order].astype(np.float64))
    precision = tp_cum / np.arange(1, len(order) + 1)
    recall = tp_cum / num_objects
    high_p, high_r = precision[-1], recall[-1]
    area = 0.0
    for i in range(len(order) - 1, -1, -1):
        if precision[i] > high_p:
            area += high_p * (high_r - recall[i])
            high_p, high_r = precision[i], recall[i]
    return float(area + high_r * high_p)


def mean_average_precision(
    bucket: np.ndarray, confidence: np.ndarray, true_positive: np.ndarray, num_objects: np.ndarray
) -> float:
    """Mean AP over buckets with samples. bucket, confidence, true_positive ``[S]``; num_objects
    ``[NUM_TRAJECTORY_TYPES]`` objects per bucket. Returns 0.0 when there is no sample (as official)."""
    aps = [
        average_precision(confidence[bucket == b], true_positive[bucket == b], int(num_objects[b]))
        for b in range(NUM_TRAJECTORY_TYPES)
        if np.any(bucket == b)
    ]
    return float(np.mean(aps)) if aps else 0.0

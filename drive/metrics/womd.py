"""Waymo Open Motion Dataset metric definitions: constants, speed scale, match rule, minADE/minFDE.

Transcribed from waymo-open-dataset ``metrics/motion_metrics.cc`` (``GetChallengeConfig``,
``SpeedScaleFactor``, ``IsTruePositive``, ``ComputeMinAverageDisplacement``, ``ComputeMissRate``).
All functions work on the 2 Hz prediction samples: prediction index ``p`` (0..15) is track step
``current + 5 (p + 1)``, so the first sample is 0.5 s after the current step and index 15 is 8 s.

Glossary: N objects, K <= 6 modes sorted by descending confidence, P = 16 prediction samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from drive.metrics.displacement import displacement, masked_ade

TRACK_STEPS_PER_SECOND = 10
PREDICTION_STEPS_PER_SECOND = 2
NUM_PREDICTION_SAMPLES = 16
MAX_PREDICTIONS = 6
SPEED_LOWER_BOUND_MPS = 1.4
SPEED_UPPER_BOUND_MPS = 11.0
SPEED_SCALE_LOWER = 0.5
SPEED_SCALE_UPPER = 1.0


@dataclass(frozen=True)
class MeasurementStep:
    """One evaluation horizon: prediction index and unscaled miss thresholds (metres)."""

    name: str
    prediction_index: int
    lateral_threshold_m: float
    longitudinal_threshold_m: float


# The challenge's three horizons (3, 5, 8 s).
MEASUREMENT_STEPS: tuple[MeasurementStep, ...] = (
    MeasurementStep("3s", 5, 1.0, 2.0),
    MeasurementStep("5s", 9, 1.8, 3.6),
    MeasurementStep("8s", 15, 3.0, 6.0),
)


def prediction_to_track_step(prediction_index: int, current_step: int) -> int:
    """Track step (10 Hz) of 2 Hz prediction sample ``prediction_index``."""
    ratio = TRACK_STEPS_PER_SECOND // PREDICTION_STEPS_PER_SECOND
    return (prediction_index + 1) * ratio + current_step


def speed_scale(speed_mps: Tensor) -> Tensor:
    """Miss-threshold scale ``[N]`` from the speed at the current step: 0.5 below 1.4 m/s, 1.0 above
    11 m/s, linear in between."""
    fraction = (speed_mps - SPEED_LOWER_BOUND_MPS) / (SPEED_UPPER_BOUND_MPS - SPEED_LOWER_BOUND_MPS)
    scale = SPEED_SCALE_LOWER + (SPEED_SCALE_UPPER - SPEED_SCALE_LOWER) * fraction
    scale = torch.where(speed_mps < SPEED_LOWER_BOUND_MPS, torch.full_like(scale, SPEED_SCALE_LOWER), scale)
    return torch.where(speed_mps > SPEED_UPPER_BOUND_MPS, torch.full_like(scale, SPEED_SCALE_UPPER), scale)


def is_match(
    trajectory: Tensor, target: Tensor, target_heading: Tensor, scale: Tensor, step: MeasurementStep
) -> Tensor:
    """Whether each mode matches at ``step``: ``[N, K]`` bool.

    trajectory ``[N, K, P, 2]``, target ``[N, P, 2]``, target_heading ``[N, P]`` rad, scale ``[N]``.
    The error is rotated into the ground-truth heading at that step (x longitudinal, y lateral),
    divided by the scale, and compared with the thresholds (``<=`` matches, as in the official code).
    """
    p = step.prediction_index
    delta = trajectory[:, :, p] - target[:, None, p]  # (N, K, 2)
    heading = target_heading[:, p].to(torch.float32)
    cos, sin = torch.cos(heading)[:, None], torch.sin(heading)[:, None]  # (N, 1)
    longitudinal = (cos * delta[..., 0] + sin * delta[..., 1]) / scale[:, None]
    lateral = (-sin * delta[..., 0] + cos * delta[..., 1]) / scale[:, None]
    return (lateral.abs() <= step.lateral_threshold_m) & (longitudinal.abs() <= step.longitudinal_threshold_m)


def min_ade_fde(
    trajectory: Tensor, target: Tensor, target_valid: Tensor, step: MeasurementStep
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """WOMD minADE and minFDE at ``step``: ``(min_ade [N], ade_valid [N], min_fde [N], fde_valid [N])``.

    minADE averages the L2 error over the valid samples ``0..step`` (at 2 Hz) and takes the minimum over
    modes; minFDE is the minimum error at ``step`` and exists only where the target is valid there.
    Independent minima: the two may come from different modes.
    """
    p = step.prediction_index
    error = displacement(trajectory[:, :, : p + 1], target[:, : p + 1])  # (N, K, p+1)
    valid = target_valid[:, : p + 1]
    min_ade = masked_ade(error, valid).amin(-1)
    min_fde = error[..., p].amin(-1)
    return min_ade, valid.any(-1), min_fde, target_valid[:, p]


def miss(matched: Tensor, target_valid: Tensor, step: MeasurementStep) -> tuple[Tensor, Tensor]:
    """Miss ``[N]`` (1.0 when no mode matches) and whether it is measured ``[N]`` (target valid at step)."""
    return (~matched.any(-1)).to(torch.float32), target_valid[:, step.prediction_index]

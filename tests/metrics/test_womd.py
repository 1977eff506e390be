"""WOMD metric pieces on hand-computed cases: speed scale, match thresholds, minADE/minFDE at 2 Hz,
trajectory classification (2024 thresholds), average precision, overlap."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from drive.metrics.womd import (
    MEASUREMENT_STEPS,
    MeasurementStep,
    is_match,
    min_ade_fde,
    prediction_to_track_step,
    speed_scale,
)
from drive.metrics.womd_map import (
    TrajectoryType,
    average_precision,
    classify_tracks,
    classify_trajectory,
    map_samples,
)
from drive.metrics.womd_overlap import overlap_per_sample, path_heading

STEP_3S, STEP_5S, STEP_8S = MEASUREMENT_STEPS


def test_challenge_constants():
    assert [
        (s.prediction_index, s.lateral_threshold_m, s.longitudinal_threshold_m) for s in MEASUREMENT_STEPS
    ] == [
        (5, 1.0, 2.0),
        (9, 1.8, 3.6),
        (15, 3.0, 6.0),
    ]
    # First 2 Hz sample is track step 15 (0.5 s after the current step 10); index 15 is 8 s.
    assert prediction_to_track_step(0, 10) == 15
    assert prediction_to_track_step(15, 10) == 90


@pytest.mark.parametrize(
    ("speed", "scale"), [(0.0, 0.5), (1.39, 0.5), (1.4, 0.5), (6.2, 0.75), (11.0, 1.0), (30.0, 1.0)]
)
def test_speed_scale(speed, scale):
    assert speed_scale(torch.tensor([speed], dtype=torch.float64)).item() == pytest.approx(scale)


def _single(offset_xy, heading, speed):
    """One object and mode; ground truth at the origin with ``heading``, error ``offset_xy`` everywhere."""
    target = torch.zeros(1, 16, 2, dtype=torch.float64)
    traj = torch.tensor(offset_xy, dtype=torch.float64).expand(1, 1, 16, 2).clone()
    target_heading = torch.full((1, 16), heading, dtype=torch.float64)
    return traj, target, target_heading, speed_scale(torch.tensor([speed], dtype=torch.float64))


@pytest.mark.parametrize(
    ("offset", "heading", "expected"),
    [
        # 6.2 m/s -> scale 0.75: at 8 s lateral limit 3.0 * 0.75 = 2.25 m, longitudinal 6.0 * 0.75 = 4.5 m.
        ((0.0, 2.24), 0.0, True),
        ((0.0, 2.26), 0.0, False),
        ((4.49, 0.0), 0.0, True),
        ((4.51, 0.0), 0.0, False),
        # Heading pi/2: the longitudinal axis is world y, the lateral axis world x.
        ((0.0, 4.49), math.pi / 2, True),
        ((4.49, 0.0), math.pi / 2, False),
        ((-2.24, -4.49), math.pi / 2, True),
    ],
)
def test_match_uses_speed_scaled_lateral_longitudinal_thresholds(offset, heading, expected):
    traj, target, target_heading, scale = _single(offset, heading, 6.2)
    assert is_match(traj, target, target_heading, scale, STEP_8S).item() is expected


def test_match_at_3s_for_a_slow_object():
    # Below 1.4 m/s the scale is 0.5: 3 s limits are 0.5 m lateral and 1.0 m longitudinal.
    traj, target, target_heading, scale = _single((0.99, 0.49), 0.0, 0.5)
    assert is_match(traj, target, target_heading, scale, STEP_3S).item()
    traj, target, target_heading, scale = _single((0.99, 0.51), 0.0, 0.5)
    assert not is_match(traj, target, target_heading, scale, STEP_3S).item()


def test_min_ade_fde_average_2hz_samples_up_to_the_horizon_over_valid_ones():
    target = torch.zeros(1, 16, 2)
    err = torch.arange(16, dtype=torch.float32)  # mode 0: error p at sample p
    mode0 = torch.stack([err, torch.zeros(16)], -1)
    mode1 = torch.full((16, 2), 0.0)
    mode1[:, 1] = 4.0  # mode 1: error 4 everywhere
    traj = torch.stack([mode0, mode1])[None]
    valid = torch.ones(1, 16, dtype=torch.bool)
    valid[0, 2] = False
    min_ade, ade_ok, min_fde, fde_ok = min_ade_fde(traj, target, valid, STEP_3S)
    # 3 s: samples 0..5 without sample 2 -> mode 0 ADE = (0+1+3+4+5)/5 = 2.6 < 4; FDE min(5, 4) = 4.
    assert min_ade.item() == pytest.approx(2.6)
    assert min_fde.item() == pytest.approx(4.0)
    assert ade_ok.item() and fde_ok.item()
    valid[0, 5] = False
    _, _, _, fde_ok = min_ade_fde(traj, target, valid, STEP_3S)
    assert not fde_ok.item()


def _classify(end_xy, end_heading, start_speed=5.0, end_speed=5.0):
    return int(
        classify_trajectory(
            np.zeros((1, 2)),
            np.zeros(1),
            np.array([[start_speed, 0.0]]),
            np.array([end_xy], dtype=float),
            np.array([end_heading]),
            np.array([[end_speed, 0.0]]),
        )[0]
    )


@pytest.mark.parametrize(
    ("end_xy", "end_heading", "speeds", "expected"),
    [
        ((2.9, 0.0), 0.0, (1.9, 1.9), TrajectoryType.STATIONARY),
        # 4 m at walking speed: stationary under the pre-2024 5 m rule, not under the 2024 3 m rule.
        ((4.0, 0.0), 0.0, (1.9, 1.9), TrajectoryType.STRAIGHT),
        ((2.9, 0.0), 0.0, (2.1, 0.0), TrajectoryType.STRAIGHT),
        ((40.0, 2.4), 0.1, (5, 5), TrajectoryType.STRAIGHT),
        # 2.6 m lateral is straight-left now (the pre-2024 lateral limit was 5 m).
        ((40.0, 2.6), 0.1, (5, 5), TrajectoryType.STRAIGHT_LEFT),
        ((40.0, -2.6), -0.1, (5, 5), TrajectoryType.STRAIGHT_RIGHT),
        ((20.0, 20.0), math.pi / 2, (5, 5), TrajectoryType.LEFT_TURN),
        ((20.0, -20.0), -math.pi / 2, (5, 5), TrajectoryType.RIGHT_TURN),
        ((-5.0, 10.0), math.pi, (5, 5), TrajectoryType.LEFT_U_TURN),
        ((-5.0, -10.0), -math.pi + 0.1, (5, 5), TrajectoryType.RIGHT_U_TURN),
        # Heading change just under pi/6 with little lateral motion: straight.
        ((30.0, 1.0), math.pi / 6 - 0.01, (5, 5), TrajectoryType.STRAIGHT),
        # A heading change that wraps (3 pi / 2 == -pi / 2) is a right turn once normalised.
        ((20.0, -20.0), 1.5 * math.pi, (5, 5), TrajectoryType.RIGHT_TURN),
    ],
)
def test_classify_trajectory_2024_rules(end_xy, end_heading, speeds, expected):
    assert _classify(end_xy, end_heading, *speeds) == expected


def test_map_samples_first_match_is_tp_later_matches_dropped_for_soft():
    matched = torch.tensor([[False, True, True, False]])
    tp, keep = map_samples(matched)
    assert tp.tolist() == [[False, True, False, False]]
    assert keep.tolist() == [[True, True, False, True]]


def test_average_precision_hand_computed():
    # Object 1: modes 0.9 (match) and 0.8 (duplicate match); object 2: mode 0.7 (match).
    # mAP samples 0.9 TP, 0.8 FP, 0.7 TP -> PR (1, .5), (.5, .5), (2/3, 1) -> AP = 2/3 * .5 + 1 * .5 = 5/6.
    conf = np.array([0.9, 0.8, 0.7])
    assert average_precision(conf, np.array([True, False, True]), 2) == pytest.approx(5 / 6)
    # Soft mAP drops the duplicate: (1, .5), (1, 1) -> AP = 1.
    assert average_precision(conf[[0, 2]], np.array([True, True]), 2) == pytest.approx(1.0)
    # An object never matched halves the reachable recall.
    assert average_precision(np.array([0.9]), np.array([True]), 2) == pytest.approx(0.5)


def test_average_precision_ties_put_false_positives_first():
    assert average_precision(np.array([0.5, 0.5]), np.array([True, False]), 1) == pytest.approx(0.5)
    assert average_precision(np.array([0.6, 0.5]), np.array([True, False]), 1) == pytest.approx(1.0)


def test_path_heading_ends_and_wraparound():
    path = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    assert path_heading(path) == pytest.approx([0.0, math.pi / 4, math.pi / 2])
    # Moving in -x with a small wobble: the inner heading stays near pi instead of averaging to 0.
    path = np.array([[0.0, 0.0], [-1.0, 0.01], [-2.0, 0.0]])
    assert abs(abs(path_heading(path)[1]) - math.pi) < 1e-3


def test_overlap_per_sample_and_touching_boxes():
    path = np.stack([np.arange(16, dtype=float), np.zeros(16)], -1)  # 1 m per sample along x
    size = np.array([2.0, 1.0])
    other_xy = np.zeros((2, 16, 2))
    other_xy[0] = [7.0, 0.9]  # overlaps sample 7 (box y in [-0.5, 0.5] vs [0.4, 1.4]); near 6 and 8 too
    other_xy[1] = [3.0, 1.0]  # touches the box at sample 3 along y = 0.5: zero area, no overlap
    heading = np.zeros((2, 16))
    valid = np.ones((2, 16), dtype=bool)
    flags = overlap_per_sample(path, size, other_xy, heading, np.array([[2.0, 1.0], [2.0, 1.0]]), valid)
    assert np.nonzero(flags)[0].tolist() == [6, 7, 8]
    valid[0, 6:9] = False  # the other object is absent at those samples
    flags = overlap_per_sample(path, size, other_xy, heading, np.array([[2.0, 1.0], [2.0, 1.0]]), valid)
    assert not flags.any()


# Cases transcribed from waymo-open-dataset metrics/motion_metrics_test.cc (scale 1, one horizon at
# prediction index 3 with thresholds lateral 1.0 m, longitudinal 2.0 m; object 1 ends at (10, 10) heading
# pi/4, object 2 at (-5, 0) heading 3.14159).
OFFICIAL_STEP = MeasurementStep("test", 3, 1.0, 2.0)


@pytest.mark.parametrize(
    ("end_xy", "gt_xy", "gt_heading", "expected"),
    [
        ((10.0, 10.0), (10.0, 10.0), 0.78539816, True),  # ComputeMissRateNoMisses
        ((9.292, 10.708), (10.0, 10.0), 0.78539816, False),  # ComputeMissRateLateral_1
        ((9.294, 10.706), (10.0, 10.0), 0.78539816, True),  # ComputeNoMissLateral_2
        ((11.415, 11.415), (10.0, 10.0), 0.78539816, False),  # ComputeMissRateLongitudinal_1
        ((11.414, 11.414), (10.0, 10.0), 0.78539816, True),  # ComputeNoMissLongitudinal_1
        ((-5.0, 1.01), (-5.0, 0.0), 3.14159, False),  # ComputeMissRateLateral_2
        ((-7.01, 0.0), (-5.0, 0.0), 3.14159, False),  # ComputeMissRateLongitudinal_2
    ],
)
def test_match_official_cases(end_xy, gt_xy, gt_heading, expected):
    traj = torch.zeros(1, 1, 4, 2, dtype=torch.float64)
    traj[0, 0, 3] = torch.tensor(end_xy)
    target = torch.zeros(1, 4, 2, dtype=torch.float64)
    target[0, 3] = torch.tensor(gt_xy)
    heading = torch.full((1, 4), gt_heading, dtype=torch.float64)
    scale = torch.ones(1, dtype=torch.float64)
    assert is_match(traj, target, heading, scale, OFFICIAL_STEP).item() is expected


def test_average_precision_official_cases():
    # ComputeMeanAveragePrecision: 0.65; ComputeMeanAveragePrecisionEqualConfidences: 1/3.
    conf = np.array([0.3, 0.7, 0.4, 0.8, 0.5, 0.2])
    tp = np.array([True, True, False, True, False, False])
    assert average_precision(conf, tp, 4) == pytest.approx(0.65, abs=1e-4)
    conf = np.array([0.8, 0.5, 0.5, 0.5, 0.5, 0.5])
    tp = np.array([True, False, True, True, False, False])
    assert average_precision(conf, tp, 6) == pytest.approx(1 / 3, abs=1e-4)


# ClassifyTrack cases from waymo-open-dataset metrics/motion_metrics_utils_test.cc (2024 version): tracks
# at 10 Hz whose heading and velocity come from forward differences, classified from step 1, under
# rotations of the whole track.
OFFICIAL_TRACKS = {
    "stationary": ([(0, 0), (0, 0.1), (0, 0.2), (0, 0.3), (0, 0.4)], TrajectoryType.STATIONARY),
    "straight": ([(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)], TrajectoryType.STRAIGHT),
    "straight_across_pi": ([(0, 0), (-1, 0.05), (-2, 0), (-3, -0.5), (-4, -0.5)], TrajectoryType.STRAIGHT),
    "straight_left": (
        [
            (0, 0),
            (0, 2),
            (0, 4),
            (-0.5, 6),
            (-1.5, 8),
            (-2, 10),
            (-2.5, 12),
            (-3, 14),
            (-4, 16),
            (-5, 18),
            (-5.5, 20),
        ],
        TrajectoryType.STRAIGHT_LEFT,
    ),
    "straight_right": (
        [
            (0, 0),
            (0, 2),
            (0, 4),
            (0.5, 6),
            (1.5, 8),
            (2, 10),
            (2.5, 12),
            (3, 14),
            (4, 16),
            (5, 18),
            (5.5, 20),
        ],
        TrajectoryType.STRAIGHT_RIGHT,
    ),
    "right": (
        [(0, 0), (0, 2), (0, 4), (0.5, 6), (2, 8), (4, 10), (6, 12), (8, 14), (10, 16), (12, 18), (14, 20)],
        TrajectoryType.RIGHT_TURN,
    ),
    "left": (
        [
            (0, 0),
            (0, 2),
            (0, 4),
            (-0.5, 6),
            (-2, 8),
            (-4, 10),
            (-6, 12),
            (-8, 14),
            (-10, 16),
            (-12, 18),
            (-14, 20),
        ],
        TrajectoryType.LEFT_TURN,
    ),
    "left_u": (
        [
            (0, 0),
            (-2, 2),
            (-2, 4),
            (-4, 4),
            (-6, 2),
            (-7, 0),
            (-8, -2),
            (-9, -4),
            (-10, -6),
            (-12, -8),
            (-14, -10),
        ],
        TrajectoryType.LEFT_U_TURN,
    ),
    "left_u_180": (
        [
            (0, 0),
            (-2, 0),
            (-4, 0),
            (-6, -2),
            (-6, -4),
            (-4, -6),
            (-2, -8),
            (0, -10),
            (2, -10),
            (4, -10),
            (6, -10),
        ],
        TrajectoryType.LEFT_U_TURN,
    ),
    "right_u_180": (
        [(0, 0), (-2, 0), (-4, 0), (-6, 2), (-6, 4), (-4, 6), (-2, 8), (0, 10), (2, 10), (4, 10), (6, 10)],
        TrajectoryType.RIGHT_U_TURN,
    ),
    "right_u": (
        [(0, 0), (2, 2), (2, 4), (4, 4), (6, 2), (7, 0), (8, -2), (9, -4), (10, -6), (12, -8), (14, -10)],
        TrajectoryType.RIGHT_U_TURN,
    ),
}


def _track_from_points(points: np.ndarray):
    delta = np.diff(points, axis=0)
    heading = np.arctan2(delta[:, 1], delta[:, 0])
    heading = np.append(heading, heading[-1])
    velocity = np.vstack([delta * 10, delta[-1:] * 10])
    return points[None], heading[None], velocity[None], np.ones((1, len(points)), dtype=bool)


@pytest.mark.parametrize("name", sorted(OFFICIAL_TRACKS))
def test_classify_tracks_official_cases(name):
    points, expected = OFFICIAL_TRACKS[name]
    points = np.asarray(points, dtype=np.float64)
    for angle in np.arange(-math.pi, math.pi + 1e-9, math.pi / 32):
        rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        types, has_type = classify_tracks(*_track_from_points(points @ rotation.T), current_step=1)
        assert has_type[0] and types[0] == expected, f"{name} rotated by {angle:.3f} rad"

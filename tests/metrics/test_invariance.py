"""Properties every metric must have: rigid-motion invariance, order invariance, and a state that is
the same whether it is filled at once or in pieces (what distributed evaluation relies on)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from drive.metrics.av2 import av2_errors
from drive.metrics.womd import MEASUREMENT_STEPS, is_match, speed_scale
from drive.metrics.womd_metric import WOMDMetrics


def _rigid(xy: torch.Tensor, angle: float, shift=(30.0, -12.0)) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -s], [s, c]], dtype=xy.dtype)
    return xy @ rot.T + torch.tensor(shift, dtype=xy.dtype)


def _random_case(seed: int, n: int = 12, k: int = 6, t: int = 16):
    rng = np.random.default_rng(seed)
    target = torch.from_numpy(rng.normal(size=(n, t, 2)).cumsum(1) * 3)
    traj = target[:, None] + torch.from_numpy(rng.normal(size=(n, k, t, 2)) * 2)
    prob = torch.from_numpy(rng.dirichlet(np.ones(k), size=n))
    return traj, prob, target


@pytest.mark.parametrize("angle", [0.3, -2.0, math.pi])
def test_av2_errors_invariant_to_rigid_motion(angle):
    traj, prob, target = _random_case(0)
    valid = torch.ones(target.shape[:2], dtype=torch.bool)
    base = av2_errors(traj, prob, target, valid, 6)
    moved = av2_errors(_rigid(traj, angle), prob, _rigid(target, angle), valid, 6)
    for key in ("min_ade", "min_fde", "miss", "brier_min_fde"):
        torch.testing.assert_close(base[key], moved[key])


def test_av2_errors_invariant_to_mode_order():
    traj, prob, target = _random_case(1)
    valid = torch.ones(target.shape[:2], dtype=torch.bool)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    base = av2_errors(traj, prob, target, valid, 6)
    shuffled = av2_errors(traj[:, perm], prob[:, perm], target, valid, 6)
    for key in ("min_ade", "min_fde", "miss", "brier_min_fde"):
        torch.testing.assert_close(base[key], shuffled[key])


@pytest.mark.parametrize("angle", [0.7, -2.5])
def test_womd_match_invariant_to_rigid_motion(angle):
    traj, _, target = _random_case(2)
    heading = torch.from_numpy(np.random.default_rng(3).uniform(-math.pi, math.pi, size=target.shape[:2]))
    scale = speed_scale(torch.linspace(0.0, 15.0, target.shape[0], dtype=torch.float64))
    for step in MEASUREMENT_STEPS:
        base = is_match(traj, target, heading, scale, step)
        moved = is_match(_rigid(traj, angle), _rigid(target, angle), heading + angle, scale, step)
        assert torch.equal(base, moved)
        assert base.any() and not base.all()  # the case has both outcomes


def test_womd_metrics_invariant_to_object_order():
    traj, prob, target = _random_case(4, n=10)
    rng = np.random.default_rng(5)
    case = dict(
        trajectory=traj,
        confidence=prob,
        target=target,
        target_heading=torch.from_numpy(rng.uniform(-3, 3, size=(10, 16))),
        target_valid=torch.from_numpy(rng.random((10, 16)) > 0.1),
        speed_mps=torch.from_numpy(rng.uniform(0, 15, size=10)),
        object_type=torch.from_numpy(rng.integers(0, 3, size=10)),
        trajectory_type=torch.from_numpy(rng.integers(0, 8, size=10)),
        type_valid=torch.ones(10, dtype=torch.bool),
        overlap=torch.from_numpy(rng.random((10, 16)) > 0.9),
    )
    perm = torch.from_numpy(rng.permutation(10))
    a, b = WOMDMetrics(), WOMDMetrics()
    a.update(**case)
    b.update(**{key: value[perm] for key, value in case.items()})
    ra, rb = a.compute(), b.compute()
    assert ra["overall"].keys() == rb["overall"].keys()
    for key, value in ra["overall"].items():
        assert rb["overall"][key] == pytest.approx(value)

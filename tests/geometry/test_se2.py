import math

import numpy as np
import torch

from drive.geometry import relative_pose, to_local, to_world, wrap_angle


def test_wrap_angle_range_and_periodicity():
    angles = torch.linspace(-20, 20, 1001, dtype=torch.float64)
    wrapped = wrap_angle(angles)
    assert wrapped.min() >= -math.pi and wrapped.max() < math.pi
    assert torch.allclose(torch.cos(wrapped), torch.cos(angles)) and torch.allclose(
        torch.sin(wrapped), torch.sin(angles)
    )
    assert float(wrap_angle(torch.tensor(math.pi, dtype=torch.float64))) == -math.pi


def test_local_world_round_trip_numpy_and_torch():
    rng = np.random.default_rng(0)
    points, origin, heading = rng.normal(size=(7, 2)), rng.normal(size=2), rng.uniform(-3, 3)
    assert np.allclose(to_world(to_local(points, origin, heading), origin, heading), points)
    local = to_local(torch.tensor([[1.0, 0.0]]), torch.tensor([1.0, 0.0]), torch.tensor(math.pi / 2))
    assert torch.allclose(local, torch.zeros(1, 2), atol=1e-7)
    ahead = to_local(torch.tensor([[0.0, 1.0]]), torch.zeros(2), torch.tensor(math.pi / 2))
    assert torch.allclose(ahead, torch.tensor([[1.0, 0.0]]), atol=1e-7)


def test_relative_pose_is_invariant_to_a_global_rigid_motion():
    rng = np.random.default_rng(1)
    p1, p2 = rng.normal(size=2), rng.normal(size=2)
    h1, h2 = rng.uniform(-3, 3, size=2)
    pos, head = relative_pose(p1, h1, p2, h2)
    angle, shift = 0.7, np.array([5.0, -3.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    pos2, head2 = relative_pose(rot @ p1 + shift, h1 + angle, rot @ p2 + shift, h2 + angle)
    assert np.allclose(pos, pos2) and np.isclose(head, head2)

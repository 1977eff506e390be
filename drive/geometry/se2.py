"""SE(2) maths as pure functions, for torch tensors and numpy arrays alike.

A pose is a position ``[..., 2]`` (metres) and a heading ``[...]`` (radians). ``to_local`` expresses
points in a pose's frame (x forward along the heading, y to the left); ``to_world`` inverts it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

Array = torch.Tensor | np.ndarray


def _lib(x: Array):
    return torch if isinstance(x, torch.Tensor) else np


def wrap_angle(angle_rad: Array) -> Array:
    """Wrap angles to [-pi, pi). Works elementwise on tensors and arrays of any shape."""
    lib = _lib(angle_rad)
    return lib.remainder(angle_rad + math.pi, 2 * math.pi) - math.pi


def rotate_vectors(vec: Array, angle_rad: Array) -> Array:
    """Rotate 2-D vectors counter-clockwise. ``vec [..., 2]``, ``angle_rad`` broadcastable to ``[...]``."""
    lib = _lib(vec)
    cos, sin = lib.cos(angle_rad), lib.sin(angle_rad)
    x, y = vec[..., 0], vec[..., 1]
    return lib.stack([cos * x - sin * y, sin * x + cos * y], -1)


def to_local(points: Array, origin: Array, heading_rad: Array) -> Array:
    """Points ``[..., 2]`` in world frame -> the frame at ``origin [..., 2]`` facing ``heading_rad [...]``."""
    return rotate_vectors(points - origin, -heading_rad)


def to_world(points_local: Array, origin: Array, heading_rad: Array) -> Array:
    """Inverse of :func:`to_local`."""
    return rotate_vectors(points_local, heading_rad) + origin


def relative_pose(
    pos_from: Array, heading_from: Array, pos_to: Array, heading_to: Array
) -> tuple[Array, Array]:
    """Pose of ``to`` in the frame of ``from``: (position ``[..., 2]``, heading ``[...]`` in [-pi, pi))."""
    return to_local(pos_to, pos_from, heading_from), wrap_angle(heading_to - heading_from)

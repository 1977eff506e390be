"""Random tokens and poses, and exact SE(2) transforms of poses, for attention-layer tests."""

from __future__ import annotations

import math

import torch

from drive.geometry.se2 import relative_pose, rotate_vectors, wrap_angle

DTYPE = torch.float64


def tokens_and_poses(num_queries: int = 5, num_keys: int = 7, dim: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, num_queries, dim, generator=g, dtype=DTYPE)
    kv = torch.randn(2, num_keys, dim, generator=g, dtype=DTYPE)
    q_pos = torch.randn(2, num_queries, 2, generator=g, dtype=DTYPE) * 20
    k_pos = torch.randn(2, num_keys, 2, generator=g, dtype=DTYPE) * 20
    q_head = (torch.rand(2, num_queries, generator=g, dtype=DTYPE) * 2 - 1) * math.pi
    k_head = (torch.rand(2, num_keys, generator=g, dtype=DTYPE) * 2 - 1) * math.pi
    return q, kv, q_pos, q_head, k_pos, k_head


def move(pos: torch.Tensor, heading: torch.Tensor, angle_rad: float, shift: tuple[float, float]):
    """Rotate poses about the origin by ``angle_rad`` then translate by ``shift``."""
    angle = torch.tensor(angle_rad, dtype=pos.dtype)
    return rotate_vectors(pos, angle) + torch.tensor(shift, dtype=pos.dtype), wrap_angle(heading + angle)


def in_frame_of(
    pos: torch.Tensor, heading: torch.Tensor, frame_pos: torch.Tensor, frame_heading: torch.Tensor
):
    """Poses ``[N, 2]``, ``[N]`` expressed in the frame of one pose ``[2]``, ``[]``."""
    return relative_pose(frame_pos, frame_heading, pos, heading)

"""Frame-free token features and token poses, as pure functions of a :class:`SceneBatch`.

Features never contain scene coordinates: agent steps are described in the agent's own frame at that
step (and relative to its own current pose), map chunks in the chunk's own frame. Scene positions and
headings leave here only as token *poses*, which reach the model through the position encoding.
"""

from __future__ import annotations

import torch

from drive.data.batch import SceneBatch
from drive.geometry.se2 import rotate_vectors, to_local, wrap_angle

AGENT_FEATURE_DIM = 15
MAP_POINT_FEATURE_DIM = 5
_POS_SCALE = 0.1  # metres -> tens of metres, keeps raw features near unit size


def scene_origin(batch: SceneBatch, mode: str) -> torch.Tensor:
    """Per-scene origin ``[B, 2]`` m: mean current position of target agents (falling back to all agents
    valid now, then zero) for ``"target_mean"``; zeros for ``"none"``."""
    current_pos = batch.agent_pos[:, :, batch.current_step]  # (B, A, 2)
    if mode == "none":
        return torch.zeros_like(current_pos[:, 0])
    now = batch.agent_valid[:, :, batch.current_step] & batch.agent_mask  # (B, A)
    targets = now & batch.target_mask
    weight = torch.where(targets.any(-1, keepdim=True), targets, now).to(current_pos.dtype)  # (B, A)
    total = (current_pos * weight[..., None]).sum(1)  # (B, 2)
    return total / weight.sum(1, keepdim=True).clamp_min(1.0)


def agent_history(batch: SceneBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Step features ``[B, A, Th, F]`` (F = AGENT_FEATURE_DIM) and validity ``[B, A, Th]`` for the history
    steps 0..current. Invalid steps are zero."""
    th = batch.current_step + 1
    pos, heading = batch.agent_pos[:, :, :th], batch.agent_heading[:, :, :th]  # (B, A, Th, 2), (B, A, Th)
    valid = batch.agent_valid[:, :, :th] & batch.agent_mask[..., None]  # (B, A, Th)
    vel_local = rotate_vectors(batch.agent_vel[:, :, :th], -heading)  # (B, A, Th, 2)
    speed = torch.linalg.vector_norm(batch.agent_vel[:, :, :th], dim=-1, keepdim=True)
    prev_valid = torch.zeros_like(valid)
    prev_valid[:, :, 1:] = valid[:, :, 1:] & valid[:, :, :-1]
    disp = torch.zeros_like(pos)
    disp[:, :, 1:] = pos[:, :, 1:] - pos[:, :, :-1]
    disp_local = rotate_vectors(disp, -heading) * prev_valid[..., None]
    turn = torch.zeros_like(heading)
    turn[:, :, 1:] = wrap_angle(heading[:, :, 1:] - heading[:, :, :-1])
    turn = turn * prev_valid
    now_valid = valid[:, :, -1:]  # (B, A, 1)
    rel_pos = to_local(pos, pos[:, :, -1:], heading[:, :, -1:]) * now_valid[..., None]  # (B, A, Th, 2)
    rel_heading = heading - heading[:, :, -1:]
    size = batch.agent_size[:, :, None, :].expand(-1, -1, th, -1)  # (B, A, Th, 3)
    feats = torch.cat(
        [
            vel_local * _POS_SCALE,
            speed * _POS_SCALE,
            disp_local,
            turn[..., None],
            prev_valid[..., None].to(pos.dtype),
            rel_pos * _POS_SCALE,
            rel_heading.cos()[..., None] * now_valid[..., None],
            rel_heading.sin()[..., None] * now_valid[..., None],
            now_valid[..., None].expand(-1, -1, th, -1).to(pos.dtype),
            size * _POS_SCALE,
        ],
        dim=-1,
    )  # (B, A, Th, 15)
    return feats * valid[..., None], valid


def map_chunk_poses(batch: SceneBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunk poses: position ``[B, M, 2]`` m (midpoint of the first point and the valid point farthest
    from it) and heading ``[B, M]`` rad (direction from the first to that farthest point). A chunk whose
    points all coincide has heading 0 in the data frame: the one input that is not rotation-covariant."""
    points, mask = batch.map_points, batch.map_point_mask  # (B, M, P, 2), (B, M, P)
    first = points[:, :, 0]  # (B, M, 2)
    dist = torch.linalg.vector_norm(points - first[:, :, None], dim=-1).masked_fill(~mask, -1.0)
    far_idx = dist.argmax(-1)  # (B, M)
    far = torch.gather(points, 2, far_idx[..., None, None].expand(-1, -1, 1, 2)).squeeze(2)  # (B, M, 2)
    direction = far - first
    heading = torch.atan2(direction[..., 1], direction[..., 0])
    return (first + far) / 2 * batch.map_mask[..., None], heading * batch.map_mask


def map_points_local(batch: SceneBatch, pos: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
    """Per-point features ``[B, M, P, 5]`` in each chunk's own frame: position, step to the next point,
    and validity. Invalid points are zero."""
    points, mask = batch.map_points, batch.map_point_mask
    local = to_local(points, pos[:, :, None], heading[:, :, None])  # (B, M, P, 2)
    step = torch.zeros_like(local)
    step[:, :, :-1] = local[:, :, 1:] - local[:, :, :-1]
    has_next = torch.zeros_like(mask)
    has_next[:, :, :-1] = mask[:, :, 1:] & mask[:, :, :-1]
    step = step * has_next[..., None]
    feats = torch.cat([local * _POS_SCALE, step * _POS_SCALE, mask[..., None].to(local.dtype)], dim=-1)
    return feats * mask[..., None]

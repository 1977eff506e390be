"""Small synthetic scenes and exact scene transforms for model tests."""

from __future__ import annotations

import math

import torch

from drive.data.batch import SceneBatch
from drive.geometry.se2 import rotate_vectors, wrap_angle

# SceneBatch fields with an agent axis at dim 1.
AGENT_KEYS = (
    "agent_pos",
    "agent_heading",
    "agent_vel",
    "agent_size",
    "agent_type",
    "agent_id",
    "agent_valid",
    "agent_mask",
    "target_mask",
)


def make_batch(
    num_scenes: int = 2,
    num_agents: int = 5,
    num_map: int = 6,
    num_points: int = 5,
    num_steps: int = 8,
    current_step: int = 4,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> SceneBatch:
    """Agents driving straight-ish with noise; map chunks are short noisy polylines. The last scene has one
    padded agent and one padded map chunk, and one agent is unobserved at the first step."""
    g = torch.Generator().manual_seed(seed)
    b, a, m, p, t = num_scenes, num_agents, num_map, num_points, num_steps
    start = torch.rand(b, a, 1, 2, generator=g) * 60 - 30
    heading0 = torch.rand(b, a, 1, generator=g) * 2 * math.pi - math.pi
    turn = torch.randn(b, a, 1, generator=g) * 0.05
    heading = wrap_angle(heading0 + turn * torch.arange(t))  # (B, A, T)
    speed = torch.rand(b, a, 1, generator=g) * 10 + 1
    vel = speed[..., None] * torch.stack([heading.cos(), heading.sin()], -1)  # (B, A, T, 2)
    pos = start + torch.cumsum(vel * 0.1, dim=2)
    agent_mask = torch.ones(b, a, dtype=torch.bool)
    agent_mask[-1, -1] = False
    valid = agent_mask[..., None].expand(-1, -1, t).clone()
    valid[0, 1, 0] = False
    target = agent_mask.clone()
    target[:, 0] = False
    map_start = torch.rand(b, m, 1, 2, generator=g) * 80 - 40
    map_dir = torch.rand(b, m, 1, generator=g) * 2 * math.pi
    steps = torch.arange(p).float()[None, None, :, None] * 3.0
    points = map_start + steps * torch.stack([map_dir.cos(), map_dir.sin()], -1)
    points = points + torch.randn(b, m, p, 2, generator=g) * 0.3
    point_mask = torch.ones(b, m, p, dtype=torch.bool)
    point_mask[0, 0, -2:] = False
    map_mask = torch.ones(b, m, dtype=torch.bool)
    map_mask[-1, -1] = False
    batch = SceneBatch(
        agent_pos=pos,
        agent_heading=heading,
        agent_vel=vel,
        agent_size=torch.tensor([4.5, 2.0, 1.6]).expand(b, a, 3).clone(),
        agent_type=torch.randint(0, 4, (b, a), generator=g),
        agent_id=torch.arange(b * a).view(b, a),
        agent_valid=valid,
        agent_mask=agent_mask,
        target_mask=target,
        map_points=points * point_mask[..., None],
        map_point_mask=point_mask,
        map_type=torch.randint(0, 7, (b, m), generator=g),
        map_mask=map_mask,
        current_step=current_step,
        dt_s=0.1,
        scenario_ids=[f"s{i}" for i in range(b)],
    )
    return zero_padding(cast(batch, dtype))


def cast(batch: SceneBatch, dtype: torch.dtype) -> SceneBatch:
    values = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in batch.tensors().items()}
    return SceneBatch(
        **values, current_step=batch.current_step, dt_s=batch.dt_s, scenario_ids=batch.scenario_ids
    )


def zero_padding(batch: SceneBatch) -> SceneBatch:
    """Zero every invalid entry, as the batching code does."""
    v = batch.agent_valid
    return replace(
        batch,
        agent_pos=batch.agent_pos * v[..., None],
        agent_heading=batch.agent_heading * v,
        agent_vel=batch.agent_vel * v[..., None],
        map_points=batch.map_points * batch.map_point_mask[..., None],
    )


def replace(batch: SceneBatch, **changes: torch.Tensor) -> SceneBatch:
    values = {**batch.tensors(), **changes}
    return SceneBatch(
        **values, current_step=batch.current_step, dt_s=batch.dt_s, scenario_ids=batch.scenario_ids
    )


def transform(batch: SceneBatch, angle_rad: float = 0.0, shift=(0.0, 0.0)) -> SceneBatch:
    """Rotate the whole scene by ``angle_rad`` about the origin, then translate by ``shift`` (metres)."""
    dtype = batch.agent_pos.dtype
    angle = torch.tensor(angle_rad, dtype=dtype)
    offset = torch.tensor(shift, dtype=dtype)
    out = replace(
        batch,
        agent_pos=rotate_vectors(batch.agent_pos, angle) + offset,
        agent_heading=wrap_angle(batch.agent_heading + angle),
        agent_vel=rotate_vectors(batch.agent_vel, angle),
        map_points=rotate_vectors(batch.map_points, angle) + offset,
    )
    return zero_padding(out)


def pad(batch: SceneBatch, extra_agents: int, extra_map: int) -> SceneBatch:
    """Append masked agents and map chunks filled with junk-free zeros (as batching pads)."""

    def grow(x: torch.Tensor, n: int) -> torch.Tensor:
        shape = list(x.shape)
        shape[1] = n
        return torch.cat([x, torch.zeros(shape, dtype=x.dtype)], dim=1)

    map_keys = ("map_points", "map_point_mask", "map_type", "map_mask")
    tensors = batch.tensors()
    changes = {k: grow(tensors[k], extra_agents) for k in AGENT_KEYS}
    changes |= {k: grow(tensors[k], extra_map) for k in map_keys}
    return replace(batch, **changes)


def permute_agents(batch: SceneBatch, order: torch.Tensor) -> SceneBatch:
    tensors = batch.tensors()
    return replace(batch, **{k: tensors[k][:, order] for k in AGENT_KEYS})

"""Batching scenarios: torch-geometric ``HeteroData`` per scene, dense padded tensors with masks.

Each scene becomes a ``HeteroData`` with node types ``agent`` (one node per agent, per-step features
stacked on dim 1) and ``map`` (one node per map chunk: a polyline piece of at most ``P`` points).
torch-geometric's ``Batch`` concatenates scenes; :func:`to_dense` pads them into :class:`SceneBatch`
with boolean masks (True = real). Padded entries are zero.

Glossary: B scenes, A agents (max over the batch), T steps, M map chunks, P points per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch_geometric.data import Batch, HeteroData
from torch_geometric.utils import to_dense_batch

from drive.data.schema import Scenario
from drive.errors import ConfigError, DataError

DEFAULT_POINTS_PER_CHUNK = 20


@dataclass
class SceneBatch:
    """Dense padded batch; every tensor's padding is zero and masked out.

    agent_pos ``[B, A, T, 2]`` m, agent_heading ``[B, A, T]`` rad, agent_vel ``[B, A, T, 2]`` m/s,
    agent_size ``[B, A, 3]`` m, agent_type ``[B, A]`` long, agent_id ``[B, A]`` long,
    agent_valid ``[B, A, T]`` bool (observed at that step), agent_mask ``[B, A]`` bool (a real agent),
    target_mask ``[B, A]`` bool (an agent to predict), map_points ``[B, M, P, 2]`` m,
    map_point_mask ``[B, M, P]`` bool, map_type ``[B, M]`` long, map_mask ``[B, M]`` bool.
    ``current_step`` and ``dt_s`` are shared by the batch; ``scenario_ids`` has B entries.
    """

    agent_pos: torch.Tensor
    agent_heading: torch.Tensor
    agent_vel: torch.Tensor
    agent_size: torch.Tensor
    agent_type: torch.Tensor
    agent_id: torch.Tensor
    agent_valid: torch.Tensor
    agent_mask: torch.Tensor
    target_mask: torch.Tensor
    map_points: torch.Tensor
    map_point_mask: torch.Tensor
    map_type: torch.Tensor
    map_mask: torch.Tensor
    current_step: int
    dt_s: float
    scenario_ids: list[str]

    @property
    def num_scenes(self) -> int:
        return int(self.agent_pos.shape[0])

    def to(self, device: torch.device | str) -> SceneBatch:
        values = {
            f.name: (
                getattr(self, f.name).to(device)
                if isinstance(getattr(self, f.name), torch.Tensor)
                else getattr(self, f.name)
            )
            for f in fields(self)
        }
        return SceneBatch(**values)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }


def chunk_polylines(
    scenario: Scenario, points_per_chunk: int = DEFAULT_POINTS_PER_CHUNK
) -> tuple[np.ndarray, ...]:
    """Cut every polyline into pieces of at most ``points_per_chunk`` points; consecutive pieces share
    their boundary point so no segment is lost.

    Returns points ``[M, P, 2]``, point mask ``[M, P]``, types ``[M]``, source polyline index ``[M]``.
    """
    if points_per_chunk < 2:
        raise ConfigError(f"points_per_chunk must be >= 2, got {points_per_chunk}")
    road = scenario.map
    starts: list[int] = []
    ends: list[int] = []
    owners: list[int] = []
    step = points_per_chunk - 1
    for index in range(road.num_polylines):
        begin, end = int(road.offsets[index]), int(road.offsets[index + 1])
        chunk_starts = range(begin, max(begin + 1, end - 1), step)
        for start in chunk_starts:
            starts.append(start)
            ends.append(min(start + points_per_chunk, end))
            owners.append(index)
    num_chunks = len(starts)
    points = np.zeros((num_chunks, points_per_chunk, 2), np.float32)
    mask = np.zeros((num_chunks, points_per_chunk), bool)
    for chunk, (start, end) in enumerate(zip(starts, ends)):
        points[chunk, : end - start] = road.points[start:end]
        mask[chunk, : end - start] = True
    owner = np.asarray(owners, np.int64)
    return points, mask, road.types[owner].astype(np.int64), owner


def scenario_to_hetero(scenario: Scenario, points_per_chunk: int = DEFAULT_POINTS_PER_CHUNK) -> HeteroData:
    """One scene as a ``HeteroData`` with ``agent`` and ``map`` node types (see module docstring)."""
    agents = scenario.agents
    data = HeteroData()
    data["agent"].num_nodes = agents.num_agents
    data["agent"].pos = torch.from_numpy(agents.position.astype(np.float32))  # (A, T, 2)
    data["agent"].heading = torch.from_numpy(agents.heading.astype(np.float32))  # (A, T)
    data["agent"].vel = torch.from_numpy(agents.velocity.astype(np.float32))  # (A, T, 2)
    data["agent"].size = torch.from_numpy(agents.size.astype(np.float32))  # (A, 3)
    data["agent"].type = torch.from_numpy(agents.types.astype(np.int64))
    data["agent"].agent_id = torch.from_numpy(agents.ids.astype(np.int64))
    data["agent"].valid = torch.from_numpy(agents.valid)
    target = np.zeros(agents.num_agents, bool)
    target[scenario.target_idx] = True
    data["agent"].target = torch.from_numpy(target)
    points, point_mask, types, _ = chunk_polylines(scenario, points_per_chunk)
    data["map"].num_nodes = len(points)
    data["map"].points = torch.from_numpy(points)  # (M, P, 2)
    data["map"].point_mask = torch.from_numpy(point_mask)
    data["map"].type = torch.from_numpy(types)
    data.scenario_id = scenario.scenario_id
    data.current_step = scenario.current_step
    data.dt_s = scenario.dt_s
    return data


def to_dense(batch: Batch) -> SceneBatch:
    """Pad a torch-geometric ``Batch`` of :func:`scenario_to_hetero` graphs into a :class:`SceneBatch`."""
    agent, road = batch["agent"], batch["map"]
    num_scenes = int(batch.num_graphs)

    def dense(store, name: str, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return to_dense_batch(store[name], index, batch_size=num_scenes)

    agent_pos, agent_mask = dense(agent, "pos", agent.batch)
    map_points, map_mask = dense(road, "points", road.batch)
    current = batch.current_step
    dt = batch.dt_s
    current_steps = set(current.tolist()) if isinstance(current, torch.Tensor) else set(current)
    ids = list(batch.scenario_id) if isinstance(batch.scenario_id, (list, tuple)) else [batch.scenario_id]
    if len(current_steps) != 1:
        # Sources differ here (WOMD 10, AV2 49, ETH/UCY 7): batch one source, or one config, at a time.
        steps = current.tolist() if isinstance(current, torch.Tensor) else list(current)
        raise DataError(
            f"scenarios {ids}: field 'current_step': a batch must share one current step, got {steps}"
        )
    if agent.pos.shape[1] != agent_pos.shape[2]:
        raise DataError(f"scenarios {ids}: field 'num_steps': inconsistent step counts in a batch")
    return SceneBatch(
        agent_pos=agent_pos,
        agent_heading=dense(agent, "heading", agent.batch)[0],
        agent_vel=dense(agent, "vel", agent.batch)[0],
        agent_size=dense(agent, "size", agent.batch)[0],
        agent_type=dense(agent, "type", agent.batch)[0],
        agent_id=dense(agent, "agent_id", agent.batch)[0],
        agent_valid=dense(agent, "valid", agent.batch)[0],
        agent_mask=agent_mask,
        target_mask=dense(agent, "target", agent.batch)[0],
        map_points=map_points,
        map_point_mask=dense(road, "point_mask", road.batch)[0],
        map_type=dense(road, "type", road.batch)[0],
        map_mask=map_mask,
        current_step=int(next(iter(current_steps))),
        # dt travels as float32 inside torch-geometric; round back to the decimal it was written as.
        dt_s=float(f"{float(dt[0] if isinstance(dt, (list, tuple, torch.Tensor)) else dt):.6g}"),
        scenario_ids=ids,
    )


def collate_scenarios(
    scenarios: Sequence[Scenario], points_per_chunk: int = DEFAULT_POINTS_PER_CHUNK
) -> SceneBatch:
    """Scenarios (same T and current step) -> one dense :class:`SceneBatch`."""
    if not scenarios:
        raise DataError("cannot collate an empty list of scenarios")
    steps = {s.num_steps for s in scenarios}
    if len(steps) != 1:
        raise DataError(
            f"scenarios {[s.scenario_id for s in scenarios]}: field 'num_steps': a batch must share one "
            f"step count, got {[s.num_steps for s in scenarios]}"
        )
    graphs = [scenario_to_hetero(s, points_per_chunk) for s in scenarios]
    return to_dense(Batch.from_data_list(graphs))

"""One element of a dense :class:`~drive.data.batch.SceneBatch` (and a model's world-frame output) back
as a :class:`Scenario` and :class:`SceneForecast`, so any batch element can be drawn like a file's."""

from __future__ import annotations

import numpy as np
import torch

from drive.data.batch import SceneBatch
from drive.data.schema import AgentTracks, MapFeatures, Scenario
from drive.errors import ConfigError
from drive.geometry.se2 import wrap_angle
from drive.viz.forecast import SceneForecast


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()


def _check_index(batch: SceneBatch, index: int) -> None:
    if not 0 <= index < batch.num_scenes:
        raise ConfigError(f"batch index: must be in 0..{batch.num_scenes - 1}, got {index}")


def scenario_from_batch(batch: SceneBatch, index: int, source: str = "batch") -> Scenario:
    """Scene ``index`` of ``batch`` without its padding. Map chunks become polylines (chunk
    boundaries repeat a point, which draws the same)."""
    _check_index(batch, index)
    real = _numpy(batch.agent_mask[index])  # (A,)
    valid = _numpy(batch.agent_valid[index])[real]  # (A_real, T)
    agents = AgentTracks(
        ids=_numpy(batch.agent_id[index])[real].astype(np.int64),
        types=_numpy(batch.agent_type[index])[real].astype(np.int8),
        position=_numpy(batch.agent_pos[index])[real].astype(np.float32) * valid[..., None],
        heading=np.asarray(wrap_angle(_numpy(batch.agent_heading[index])[real]), np.float32) * valid,
        velocity=_numpy(batch.agent_vel[index])[real].astype(np.float32) * valid[..., None],
        size=_numpy(batch.agent_size[index])[real].astype(np.float32),
        valid=valid.astype(bool),
    )
    chunks = _numpy(batch.map_mask[index])  # (M,)
    point_mask = _numpy(batch.map_point_mask[index])[chunks]  # (M_real, P)
    points = _numpy(batch.map_points[index])[chunks]  # (M_real, P, 2)
    keep = point_mask.any(axis=1)
    counts = point_mask[keep].sum(axis=1)
    road = MapFeatures(
        ids=np.arange(int(keep.sum()), dtype=np.int64),
        types=_numpy(batch.map_type[index])[chunks][keep].astype(np.int8),
        subtypes=np.zeros(int(keep.sum()), np.int16),
        points=points[keep][point_mask[keep]].astype(np.float32).reshape(-1, 2),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )
    target = _numpy(batch.target_mask[index])[real]
    return Scenario(
        scenario_id=batch.scenario_ids[index],
        source=source,
        dt_s=batch.dt_s,
        current_step=batch.current_step,
        agents=agents,
        target_idx=np.flatnonzero(target).astype(np.int64),
        map=road,
    )


def forecast_from_batch(
    batch: SceneBatch, index: int, trajectory_world: torch.Tensor, probability: torch.Tensor
) -> SceneForecast:
    """The target agents' forecast of scene ``index`` from ``trajectory_world [B, A, K, Tf, 2]`` and
    ``probability [B, A, K]`` (as :func:`drive.models.prediction_to_world` returns). Agent indices
    refer to :func:`scenario_from_batch`'s scene (padding removed)."""
    _check_index(batch, index)
    real = _numpy(batch.agent_mask[index])  # (A,)
    target = _numpy(batch.target_mask[index])[real]  # (A_real,)
    trajectory = _numpy(trajectory_world[index].float())[real][target]  # (N, K, Tf, 2)
    return SceneForecast(
        agent_idx=np.flatnonzero(target).astype(np.int64),
        trajectory=trajectory.astype(np.float32),
        probability=_numpy(probability[index].float())[real][target].astype(np.float32),
    )

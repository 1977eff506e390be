"""From a batch's model output to per-target rows in the scene frame, for metrics and prediction files.

Glossary: B scenes, A agents, K modes, Tf future steps, N target agents in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from drive.data.batch import SceneBatch


@dataclass(frozen=True)
class TargetRows:
    """trajectory ``[N, K, Tf, 2]`` m and probability ``[N, K]`` (scene frame), ground truth
    ``[N, Tf, 2]`` m with ``target_valid [N, Tf]`` bool, the scene index ``[N]`` and agent id ``[N]``."""

    trajectory: Tensor
    probability: Tensor
    target: Tensor
    target_valid: Tensor
    scene_index: Tensor
    agent_id: Tensor


def future_of(batch: SceneBatch, num_future_steps: int) -> tuple[Tensor, Tensor]:
    """Ground truth after the current step: positions ``[B, A, Tf, 2]`` and validity ``[B, A, Tf]``;
    steps past the end of the recorded window are invalid."""
    start = batch.current_step + 1
    pos = batch.agent_pos[:, :, start : start + num_future_steps]  # (B, A, <=Tf, 2)
    valid = batch.agent_valid[:, :, start : start + num_future_steps]  # (B, A, <=Tf)
    missing = num_future_steps - pos.shape[2]
    if missing > 0:
        pos = torch.nn.functional.pad(pos, (0, 0, 0, missing))
        valid = torch.nn.functional.pad(valid, (0, missing))
    return pos, valid


def target_rows(trajectory_world: Tensor, probability: Tensor, batch: SceneBatch) -> TargetRows:
    """Rows of the target agents: ``trajectory_world [B, A, K, Tf, 2]``, ``probability [B, A, K]``
    (as returned by :func:`drive.models.prediction_to_world`)."""
    select = batch.target_mask & batch.agent_mask  # (B, A)
    target, valid = future_of(batch, trajectory_world.shape[3])
    scene_index = torch.arange(batch.num_scenes, device=select.device)[:, None].expand_as(select)
    return TargetRows(
        trajectory=trajectory_world[select],  # (N, K, Tf, 2)
        probability=probability[select],  # (N, K)
        target=target[select],  # (N, Tf, 2)
        target_valid=valid[select],  # (N, Tf)
        scene_index=scene_index[select],  # (N,)
        agent_id=batch.agent_id[select],  # (N,)
    )

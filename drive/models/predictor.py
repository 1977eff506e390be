"""The query-centric multi-agent trajectory predictor and its output."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from drive.data.batch import SceneBatch
from drive.geometry.se2 import rotate_vectors, to_world
from drive.models.config import PredictorConfig
from drive.models.decoder import ModeDecoder
from drive.models.encoder import SceneEncoder


@dataclass
class Prediction:
    """Model output for every agent slot (rows of non-target or padded agents are present and ignored).

    trajectory ``[B, A, K, Tf, 2]`` m in each agent's own frame at the current step (origin = its current
    position, x axis = its current heading); scale ``[B, A, K, Tf, 2]`` > 0 (Laplace b or Gaussian σ, m);
    heading ``[B, A, K, Tf]`` rad relative to the current heading, or None; logits ``[B, A, K]``.
    """

    trajectory: torch.Tensor
    scale: torch.Tensor
    heading: torch.Tensor | None
    logits: torch.Tensor


class TrajectoryPredictor(nn.Module):
    """Predicts K futures for all agents of a scene at once. ``forward(batch: SceneBatch) -> Prediction``.

    Agents are encoded by their history tokens (features in their own frame) and interact with the map
    and with each other through attention whose position encoding is ``config.encoding``.
    """

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = SceneEncoder(config)
        self.decoder = ModeDecoder(config)

    def forward(self, batch: SceneBatch) -> Prediction:
        scene = self.encoder(batch)
        trajectory, scale, heading, logits = self.decoder(scene)
        if self.config.anchor == "constant_velocity":
            trajectory = (
                trajectory + constant_velocity_anchor(batch, self.config.num_future_steps)[:, :, None]
            )
        return Prediction(trajectory=trajectory, scale=scale, heading=heading, logits=logits)


def constant_velocity_anchor(batch: SceneBatch, num_future_steps: int) -> torch.Tensor:
    """Each agent's current velocity extrapolated over the horizon, in its own current frame:
    ``[B, A, Tf, 2]`` m. Built from the current step's velocity and heading only, so it is invariant to
    any rigid motion of the scene; agents not valid now get zeros."""
    now = batch.current_step
    valid = (batch.agent_valid[:, :, now] & batch.agent_mask)[..., None]  # (B, A, 1)
    vel_local = (
        rotate_vectors(batch.agent_vel[:, :, now], -batch.agent_heading[:, :, now]) * valid
    )  # (B, A, 2)
    steps = torch.arange(1, num_future_steps + 1, dtype=vel_local.dtype, device=vel_local.device)
    return vel_local[:, :, None] * (steps * batch.dt_s)[:, None]  # (B, A, Tf, 2)


def prediction_to_world(pred: Prediction, batch: SceneBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Agent-frame predictions -> data frame: ``(trajectory_world [B, A, K, Tf, 2] m,
    probability [B, A, K])`` using each agent's pose at ``batch.current_step``."""
    now = batch.current_step
    origin = batch.agent_pos[:, :, now][:, :, None, None]  # (B, A, 1, 1, 2)
    heading = batch.agent_heading[:, :, now][:, :, None, None]  # (B, A, 1, 1)
    trajectory = to_world(
        pred.trajectory, origin.to(pred.trajectory.dtype), heading.to(pred.trajectory.dtype)
    )
    return trajectory, torch.softmax(pred.logits, dim=-1)

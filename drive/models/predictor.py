"""The query-centric multi-agent trajectory predictor and its output."""

from __future__ import annotations

import math
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
        self.fan = (
            VelocityFan(config.num_modes, math.radians(config.fan_max_angle_deg), config.fan_speed_spread)
            if config.anchor == "velocity_fan"
            else None
        )

    def forward(self, batch: SceneBatch) -> Prediction:
        scene = self.encoder(batch)
        trajectory, scale, heading, logits = self.decoder(scene)
        if self.config.anchor != "none":
            anchor = constant_velocity_anchor(batch, self.config.num_future_steps)  # (B, A, Tf, 2)
            anchor = anchor[:, :, None] if self.fan is None else self.fan(anchor)  # (B, A, 1 | K, Tf, 2)
            trajectory = trajectory + anchor.to(trajectory.dtype)
        return Prediction(trajectory=trajectory, scale=scale, heading=heading, logits=logits)


def fan_grid(num_modes: int, max_angle_rad: float, speed_spread: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial ``(angle [K] rad, speed factor [K])`` of a velocity fan: a grid of ``ceil(sqrt(K))`` angles
    evenly in ``±max_angle_rad`` by as many speed factors in ``1 ± speed_spread`` as K needs, read angle
    by angle (K = 20: 5 angles x 4 speeds; K = 6: 3 x 2)."""
    num_angles = math.ceil(math.sqrt(num_modes))
    num_speeds = math.ceil(num_modes / num_angles)
    angles = torch.linspace(-max_angle_rad, max_angle_rad, num_angles) if num_angles > 1 else torch.zeros(1)
    speeds = (
        torch.linspace(1.0 - speed_spread, 1.0 + speed_spread, num_speeds)
        if num_speeds > 1
        else torch.ones(1)
    )
    grid_angle, grid_speed = torch.meshgrid(angles, speeds, indexing="ij")
    return grid_angle.flatten()[:num_modes].clone(), grid_speed.flatten()[:num_modes].clone()


class VelocityFan(nn.Module):
    """K straight-line anchors per agent from its constant-velocity path ``[B, A, Tf, 2]`` (agent frame):
    mode k turns it by a learned angle and scales it by a learned speed factor -> ``[B, A, K, Tf, 2]``.
    Working in the agent's own frame, it keeps every invariance of the constant-velocity anchor."""

    def __init__(self, num_modes: int, max_angle_rad: float, speed_spread: float) -> None:
        super().__init__()
        angle, speed = fan_grid(num_modes, max_angle_rad, speed_spread)
        self.angle = nn.Parameter(angle)  # (K,)
        self.log_speed = nn.Parameter(speed.log())  # (K,): positive factors

    def forward(self, path: torch.Tensor) -> torch.Tensor:
        factor = self.log_speed.exp()[:, None]  # (K, 1)
        cos, sin = self.angle.cos()[:, None] * factor, self.angle.sin()[:, None] * factor  # (K, 1)
        x, y = path[:, :, None, :, 0], path[:, :, None, :, 1]  # (B, A, 1, Tf)
        return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)  # (B, A, K, Tf, 2)


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

"""Winner-takes-all mixture loss for multi-modal trajectory prediction.

Per target agent: the best mode is the one with the smallest (endpoint + average) displacement to the
ground truth over the valid future steps; its negative log-likelihood under a Laplace or Gaussian per
coordinate is the regression loss (plus an L1 term on the wrapped heading when the model predicts
headings), and cross-entropy of the mode logits against the best mode is the classification loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from drive.data.batch import SceneBatch
from drive.errors import ConfigError
from drive.geometry.se2 import to_local, wrap_angle
from drive.models.config import LIKELIHOODS
from drive.models.predictor import Prediction


def future_in_agent_frame(batch: SceneBatch, num_steps: int) -> tuple[torch.Tensor, ...]:
    """Ground truth in each agent's current frame: positions ``[B, A, Tf, 2]`` m, headings ``[B, A, Tf]``
    rad relative to the current heading, validity ``[B, A, Tf]`` (false beyond the recorded steps)."""
    now = batch.current_step
    end = min(now + 1 + num_steps, batch.agent_pos.shape[2])
    pos = batch.agent_pos[:, :, now + 1 : end]  # (B, A, <=Tf, 2)
    heading = batch.agent_heading[:, :, now + 1 : end]
    valid = batch.agent_valid[:, :, now + 1 : end] & batch.agent_valid[:, :, now : now + 1]
    origin = batch.agent_pos[:, :, now : now + 1]  # (B, A, 1, 2)
    origin_heading = batch.agent_heading[:, :, now : now + 1]  # (B, A, 1)
    local = to_local(pos, origin, origin_heading)
    rel_heading = wrap_angle(heading - origin_heading)
    missing = num_steps - local.shape[2]
    if missing:
        local = F.pad(local, (0, 0, 0, missing))
        rel_heading = F.pad(rel_heading, (0, missing))
        valid = F.pad(valid, (0, missing))
    return local * valid[..., None], rel_heading * valid, valid


def nll(error: torch.Tensor, scale: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Per-coordinate negative log-likelihood of ``error = target - mean`` (same shape as ``scale``)."""
    if likelihood == "laplace":
        return torch.log(2 * scale) + error.abs() / scale
    return torch.log(scale) + 0.5 * math.log(2 * math.pi) + 0.5 * (error / scale) ** 2


def best_mode(trajectory: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``[B, A, K, Tf, 2]``, ``[B, A, Tf, 2]``, ``[B, A, Tf]`` -> winner index ``[B, A]``: the mode with the
    smallest displacement at the last valid step plus average displacement over valid steps."""
    dist = torch.linalg.vector_norm(trajectory - target[:, :, None], dim=-1)  # (B, A, K, Tf)
    w = valid[:, :, None].to(dist.dtype)  # (B, A, 1, Tf)
    ade = (dist * w).sum(-1) / w.sum(-1).clamp_min(1.0)  # (B, A, K)
    steps = torch.arange(valid.shape[-1], device=valid.device)
    last = torch.where(valid, steps, -1).amax(-1).clamp_min(0)  # (B, A)
    fde = torch.gather(dist, 3, last[:, :, None, None].expand(-1, -1, dist.shape[2], 1)).squeeze(-1)
    return (fde + ade).argmin(-1)


def prediction_loss(
    pred: Prediction, batch: SceneBatch, likelihood: str = "laplace"
) -> dict[str, torch.Tensor]:
    """``{"loss", "reg", "cls"}`` (plus ``"heading"`` when headings are predicted), averaged over target
    agents valid now with at least one valid future step. ``reg`` is the WTA NLL per valid step (summed over
    x and y); ``cls`` the cross-entropy of the logits against the winning mode. Zero when no agent counts."""
    if likelihood not in LIKELIHOODS:
        raise ConfigError(f"likelihood = {likelihood!r} is invalid: choose one of {', '.join(LIKELIHOODS)}")
    num_steps = pred.trajectory.shape[3]
    target, target_heading, valid = future_in_agent_frame(batch, num_steps)
    target, target_heading = target.to(pred.trajectory.dtype), target_heading.to(pred.trajectory.dtype)
    valid = valid & (batch.target_mask & batch.agent_mask)[..., None]  # (B, A, Tf)
    counted = valid.any(-1)  # (B, A)
    num_agents = counted.sum().clamp_min(1)
    winner = best_mode(pred.trajectory.detach(), target, valid)  # (B, A)

    def pick(x: torch.Tensor) -> torch.Tensor:
        index = winner.view(*winner.shape, 1, *([1] * (x.dim() - 3)))
        return torch.gather(x, 2, index.expand(-1, -1, 1, *x.shape[3:])).squeeze(2)

    w = valid.to(pred.trajectory.dtype)  # (B, A, Tf)
    steps_per_agent = w.sum(-1).clamp_min(1.0)  # (B, A)
    step_nll = nll(target - pick(pred.trajectory), pick(pred.scale), likelihood).sum(-1)  # (B, A, Tf)
    reg = ((step_nll * w).sum(-1) / steps_per_agent)[counted].sum() / num_agents
    ce = F.cross_entropy(pred.logits.flatten(0, 1), winner.flatten(), reduction="none").view(winner.shape)
    cls = ce[counted].sum() / num_agents
    out = {"reg": reg, "cls": cls}
    total = reg + cls
    if pred.heading is not None:
        err = wrap_angle(target_heading - pick(pred.heading)).abs()  # (B, A, Tf)
        out["heading"] = ((err * w).sum(-1) / steps_per_agent)[counted].sum() / num_agents
        total = total + out["heading"]
    out["loss"] = total
    return out

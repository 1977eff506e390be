"""Stand-ins used only while a piece the training code calls has not landed yet."""

from __future__ import annotations

import sys
import types

import torch


def _fake_prediction_loss(pred, batch, likelihood: str = "laplace") -> dict[str, torch.Tensor]:
    from drive.geometry.se2 import to_local

    now, steps = batch.current_step, pred.trajectory.shape[3]
    future = batch.agent_pos[:, :, now + 1 : now + 1 + steps]  # (B, A, Tf, 2)
    valid = batch.agent_valid[:, :, now + 1 : now + 1 + steps] & batch.target_mask[..., None]
    local = to_local(future, batch.agent_pos[:, :, now, None], batch.agent_heading[:, :, now, None])
    error = (pred.trajectory - local[:, :, None]).norm(dim=-1)  # (B, A, K, Tf)
    ade = (error * valid[:, :, None]).sum(-1) / valid[:, :, None].sum(-1).clamp_min(1)
    best = ade.argmin(-1)  # (B, A)
    rows = valid.any(-1)
    reg = ade.gather(-1, best[..., None])[..., 0][rows].mean()
    cls = torch.nn.functional.cross_entropy(pred.logits[rows], best[rows])
    return {"loss": reg + cls, "reg": reg, "cls": cls}


def install() -> None:
    try:
        from drive.losses import prediction_loss  # noqa: F401
    except ImportError:
        module = types.ModuleType("drive.losses")
        module.prediction_loss = _fake_prediction_loss
        sys.modules["drive.losses"] = module

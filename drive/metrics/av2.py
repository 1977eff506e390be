"""Argoverse 2 leaderboard metrics: minADE_k, minFDE_k, MR_k and brier-minFDE_k.

Definitions (av2-api ``datasets/motion_forecasting/eval/metrics.py`` and the leaderboard):
the k forecasts are the k most probable ones (probabilities renormalised over them); the "best"
forecast is the one with the smallest endpoint error; minFDE_k is its endpoint error, minADE_k its
ADE (not the smallest ADE), MR_k is 1 when its endpoint error exceeds 2.0 m, and
brier-minFDE_k = minFDE_k + (1 - p_best)^2. k = 1 takes the most probable forecast.

Ground truth with gaps (not in AV2's scored tracks, possible elsewhere): ADE averages the valid
steps, the "endpoint" is the last valid step. Objects with no valid future step are not scored.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from drive.errors import ConfigError
from drive.metrics.displacement import displacement, last_valid_index, masked_ade, top_k_modes

MISS_THRESHOLD_M = 2.0


def av2_errors(
    trajectory: Tensor,
    probability: Tensor,
    target: Tensor,
    target_valid: Tensor,
    k: int,
    miss_threshold_m: float = MISS_THRESHOLD_M,
) -> dict[str, Tensor]:
    """Per-object AV2 errors.

    trajectory ``[N, K, T, 2]`` m, probability ``[N, K]``, target ``[N, T, 2]`` m, target_valid
    ``[N, T]`` bool. Returns ``min_ade``, ``min_fde``, ``miss`` (float 0/1), ``brier_min_fde``, each
    ``[N]``, and ``scored [N]`` bool (rows with at least one valid step; the others hold zeros).
    """
    traj, prob = top_k_modes(trajectory, probability, k)  # (N, k, T, 2), (N, k)
    error = displacement(traj, target)  # (N, k, T)
    last = last_valid_index(target_valid)  # (N,)
    fde = error.gather(2, last[:, None, None].expand(-1, error.shape[1], 1))[..., 0]  # (N, k)
    ade = masked_ade(error, target_valid)  # (N, k)
    best = fde.argmin(-1, keepdim=True)  # (N, 1); first index on ties
    min_fde = fde.gather(1, best)[:, 0]
    p_best = prob.gather(1, best)[:, 0]
    scored = target_valid.any(-1)
    zero = torch.zeros_like(min_fde)
    return {
        "min_ade": torch.where(scored, ade.gather(1, best)[:, 0], zero),
        "min_fde": torch.where(scored, min_fde, zero),
        "miss": torch.where(scored, (min_fde > miss_threshold_m).to(min_fde.dtype), zero),
        "brier_min_fde": torch.where(scored, min_fde + (1.0 - p_best) ** 2, zero),
        "scored": scored,
    }


class AV2Metrics(Metric):
    """Accumulates ``minADE_k``, ``minFDE_k``, ``MR_k`` (and ``brier_minFDE_k`` for k > 1).

    ``update(trajectory [N, K, T, 2], probability [N, K], target [N, T, 2], target_valid [N, T])``;
    ``compute()`` returns the means over scored objects, keyed by leaderboard name. Sums and counts
    are reduced with ``sum`` across processes, so distributed evaluation gives the global mean.
    """

    full_state_update = False

    def __init__(self, k: int = 6, miss_threshold_m: float = MISS_THRESHOLD_M, **kwargs) -> None:
        super().__init__(**kwargs)
        if k < 1:
            raise ConfigError(f"AV2Metrics: k must be >= 1, got {k}")
        self.k = k
        self.miss_threshold_m = miss_threshold_m
        for name in ("min_ade", "min_fde", "miss", "brier_min_fde"):
            self.add_state(f"{name}_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, trajectory: Tensor, probability: Tensor, target: Tensor, target_valid: Tensor) -> None:
        errors = av2_errors(trajectory, probability, target, target_valid, self.k, self.miss_threshold_m)
        for name in ("min_ade", "min_fde", "miss", "brier_min_fde"):
            state = getattr(self, f"{name}_sum")
            setattr(self, f"{name}_sum", state + errors[name].double().sum())
        self.count += errors["scored"].sum()

    def compute(self) -> dict[str, Tensor]:
        count = self.count.clamp_min(1).double()
        k = self.k
        result = {
            f"minADE_{k}": self.min_ade_sum / count,
            f"minFDE_{k}": self.min_fde_sum / count,
            f"MR_{k}": self.miss_sum / count,
        }
        if k > 1:
            result[f"brier_minFDE_{k}"] = self.brier_min_fde_sum / count
        return result

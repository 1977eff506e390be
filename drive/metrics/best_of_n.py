"""ETH/UCY best-of-N ADE/FDE (Social GAN protocol): per pedestrian, the smallest ADE over N samples
and, independently, the smallest FDE; N = 20 is the benchmark's "best-of-20", N = 1 the single
(most probable) forecast.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from drive.errors import ConfigError
from drive.metrics.displacement import displacement, last_valid_index, masked_ade, top_k_modes


def best_of_n(
    trajectory: Tensor, probability: Tensor, target: Tensor, target_valid: Tensor, n: int
) -> tuple[Tensor, Tensor, Tensor]:
    """``(ade [N], fde [N], scored [N])`` over the ``n`` most probable modes.

    trajectory ``[N, K, T, 2]`` m, probability ``[N, K]``, target ``[N, T, 2]``, target_valid
    ``[N, T]``. ADE averages valid steps; FDE is taken at the last valid step.
    """
    traj, _ = top_k_modes(trajectory, probability, n)
    error = displacement(traj, target)  # (N, n, T)
    last = last_valid_index(target_valid)
    fde = error.gather(2, last[:, None, None].expand(-1, error.shape[1], 1))[..., 0]  # (N, n)
    return masked_ade(error, target_valid).amin(-1), fde.amin(-1), target_valid.any(-1)


class BestOfNMetrics(Metric):
    """Accumulates ``ADE_n`` and ``FDE_n``; states reduce with ``sum`` across processes."""

    full_state_update = False

    def __init__(self, n: int = 20, **kwargs) -> None:
        super().__init__(**kwargs)
        if n < 1:
            raise ConfigError(f"BestOfNMetrics: n must be >= 1, got {n}")
        self.n = n
        self.add_state("ade_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("fde_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, trajectory: Tensor, probability: Tensor, target: Tensor, target_valid: Tensor) -> None:
        ade, fde, scored = best_of_n(trajectory, probability, target, target_valid, self.n)
        self.ade_sum += ade[scored].double().sum()
        self.fde_sum += fde[scored].double().sum()
        self.count += scored.sum()

    def compute(self) -> dict[str, Tensor]:
        count = self.count.clamp_min(1).double()
        return {f"ADE_{self.n}": self.ade_sum / count, f"FDE_{self.n}": self.fde_sum / count}

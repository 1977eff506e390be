"""Reducing many candidate trajectories per agent to K representatives by clustering their endpoints.

Best-of-K metrics (minADE_K, minFDE_K) reward K forecasts that *cover* where an agent may end up. A model
that offers more candidates than K (more modes than scored, or the pooled modes of several views of one
scene) is reduced to K by probability-weighted k-means on the final positions; each cluster becomes one
forecast: the probability-weighted mean of its members' trajectories, with their summed probability.
This is the final-position clustering of SocialVAE (Xu et al., 2022) and the endpoint grouping behind
Y-Net's and MTR's test-time selection, in a deterministic form: the first centre is the most probable
endpoint, each next one the endpoint farthest from the chosen centres (probability breaks ties), then
Lloyd iterations. Reading only predictions, it never sees the ground truth.
"""

from __future__ import annotations

import torch
from torch import Tensor

from drive.errors import ConfigError


def _farthest_point_init(end: Tensor, weight: Tensor, k: int) -> Tensor:
    """``end [N, M, 2]``, ``weight [N, M]`` -> indices ``[N, k]`` of the initial centres."""
    n, m, _ = end.shape
    rows = torch.arange(n, device=end.device)
    first = weight.argmax(-1)  # (N,)
    chosen = [first]
    nearest = torch.linalg.vector_norm(end - end[rows, first][:, None], dim=-1)  # (N, M)
    for _ in range(1, k):
        # Distance dominates; the tiny probability term only orders equal distances (repeated endpoints).
        score = nearest + 1e-6 * weight
        nxt = score.argmax(-1)
        chosen.append(nxt)
        nearest = torch.minimum(nearest, torch.linalg.vector_norm(end - end[rows, nxt][:, None], dim=-1))
    return torch.stack(chosen, -1)


def cluster_modes(
    trajectory: Tensor, probability: Tensor, k: int, iterations: int = 10
) -> tuple[Tensor, Tensor]:
    """``k`` representative trajectories per agent out of ``M`` candidates.

    trajectory ``[N, M, T, 2]`` (any frame, metres), probability ``[N, M]`` (non-negative; rows need not
    sum to 1) -> ``(trajectory [N, k, T, 2], probability [N, k])``, most probable cluster first,
    probabilities renormalised to sum to 1 per agent. With ``M <= k`` the candidates come back as they are
    (sorted by probability). Weighted k-means on the last step's positions; a cluster left without
    members keeps the candidate nearest its centre with probability 0.
    """
    if trajectory.dim() != 4 or trajectory.shape[-1] != 2:
        raise ConfigError(f"cluster_modes: trajectory must be [N, M, T, 2], got {tuple(trajectory.shape)}")
    if probability.shape != trajectory.shape[:2]:
        raise ConfigError(
            f"cluster_modes: probability must be [N, M] = {tuple(trajectory.shape[:2])}, "
            f"got {tuple(probability.shape)}"
        )
    if k < 1:
        raise ConfigError(f"cluster_modes: k must be >= 1, got {k}")
    bad = ~(torch.isfinite(trajectory).flatten(1).all(1) & torch.isfinite(probability).all(1))  # (N,)
    if bad.any():
        # k-means would spread one agent's NaN into a whole cluster: name the row instead.
        raise ConfigError(
            f"cluster_modes: agent row {int(bad.nonzero()[0])} has a non-finite trajectory or probability"
        )
    if iterations < 0:
        raise ConfigError(f"cluster_modes: iterations must be >= 0, got {iterations}")
    n, m = probability.shape
    weight = probability.clamp_min(0).to(trajectory.dtype)
    total = weight.sum(-1, keepdim=True)
    # An all-zero row weighs its candidates equally rather than dividing by zero.
    weight = torch.where(total > 0, weight / total.clamp_min(1e-12), torch.full_like(weight, 1.0 / max(m, 1)))
    if m <= k or n == 0:
        order = torch.sort(weight, dim=-1, descending=True, stable=True).indices
        return (
            trajectory.gather(1, order[:, :, None, None].expand(-1, -1, *trajectory.shape[2:])),
            weight.gather(1, order),
        )
    end = trajectory[:, :, -1]  # (N, M, 2)
    rows = torch.arange(n, device=end.device)[:, None]
    centre = end[rows, _farthest_point_init(end, weight, k)]  # (N, k, 2)
    for _ in range(iterations + 1):
        member = torch.cdist(end, centre).argmin(-1)  # (N, M)
        onehot = torch.nn.functional.one_hot(member, k).to(weight.dtype) * weight[..., None]  # (N, M, k)
        mass = onehot.sum(1)  # (N, k)
        moved = torch.einsum("nmk,nmc->nkc", onehot, end) / mass.clamp_min(1e-12)[..., None]
        centre = torch.where(mass[..., None] > 0, moved, centre)
    mean_traj = torch.einsum("nmk,nmtc->nktc", onehot, trajectory) / mass.clamp_min(1e-12)[..., None, None]
    nearest = torch.cdist(centre, end).argmin(-1)  # (N, k)
    fallback = trajectory[rows, nearest]  # (N, k, T, 2)
    clustered = torch.where((mass > 0)[..., None, None], mean_traj, fallback)
    order = torch.sort(mass, dim=-1, descending=True, stable=True).indices  # (N, k)
    return (
        clustered.gather(1, order[:, :, None, None].expand(-1, -1, *clustered.shape[2:])),
        mass.gather(1, order),
    )

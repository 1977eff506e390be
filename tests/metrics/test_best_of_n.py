"""ETH/UCY best-of-N: independent per-pedestrian minima of ADE and FDE."""

from __future__ import annotations

import pytest
import torch

from drive.metrics.best_of_n import BestOfNMetrics, best_of_n


def test_min_ade_and_min_fde_come_from_different_samples():
    gt = torch.zeros(1, 4, 2)
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [3.0, 0.0]])  # ADE 0.75, FDE 3
    b = torch.full((4, 2), 0.0)
    b[:, 1] = 1.0  # ADE 1, FDE 1
    traj = torch.stack([a, b])[None]
    ade, fde, scored = best_of_n(traj, torch.tensor([[0.5, 0.5]]), gt, torch.ones(1, 4, dtype=torch.bool), 20)
    assert ade.item() == pytest.approx(0.75) and fde.item() == pytest.approx(1.0) and scored.item()
    # Best-of-1 takes the most probable sample only.
    ade1, fde1, _ = best_of_n(traj, torch.tensor([[0.2, 0.8]]), gt, torch.ones(1, 4, dtype=torch.bool), 1)
    assert ade1.item() == pytest.approx(1.0) and fde1.item() == pytest.approx(1.0)


def test_metric_averages_per_pedestrian():
    gt = torch.zeros(2, 3, 2)
    traj = torch.zeros(2, 20, 3, 2)
    traj[0, :, :, 0] = torch.arange(1, 21, dtype=torch.float32)[:, None]  # best sample error 1
    traj[1, :, :, 0] = 3.0
    metric = BestOfNMetrics(n=20)
    metric.update(traj, torch.full((2, 20), 0.05), gt, torch.ones(2, 3, dtype=torch.bool))
    out = metric.compute()
    assert out["ADE_20"].item() == pytest.approx(2.0) and out["FDE_20"].item() == pytest.approx(2.0)


def test_bad_n_and_k_are_config_errors():
    from drive.errors import ConfigError
    from drive.metrics.av2 import AV2Metrics

    with pytest.raises(ConfigError, match="n must be >= 1"):
        BestOfNMetrics(n=0)
    with pytest.raises(ConfigError, match="k must be >= 1"):
        AV2Metrics(k=0)

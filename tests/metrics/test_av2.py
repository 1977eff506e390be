"""AV2 metrics: hand-computed cases and agreement with av2's own per-trajectory functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drive.metrics.av2 import AV2Metrics, av2_errors


def _line(offsets_y, last_x=None):
    xy = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    xy[:, 1] += torch.as_tensor(offsets_y)
    if last_x is not None:
        xy[-1, 0] = last_x
    return xy


@pytest.fixture
def two_modes():
    gt = _line([0.0, 0.0, 0.0])[None]  # (1, 3, 2)
    mode_a = _line([0.3, 0.3, 0.3])  # ADE 0.3, FDE 0.3
    mode_b = _line([0.0, 0.0, 0.0], last_x=3.5)  # ADE 1/6, FDE 0.5
    traj = torch.stack([mode_a, mode_b])[None]  # (1, 2, 3, 2)
    prob = torch.tensor([[0.25, 0.75]])
    return traj, prob, gt, torch.ones(1, 3, dtype=torch.bool)


def test_min_ade_is_the_ade_of_the_best_endpoint_mode(two_modes):
    traj, prob, gt, valid = two_modes
    e = av2_errors(traj, prob, gt, valid, k=6)
    # Best endpoint is mode A (0.3 < 0.5), so minADE is A's 0.3, not the smaller ADE 1/6 of mode B.
    assert e["min_fde"].item() == pytest.approx(0.3)
    assert e["min_ade"].item() == pytest.approx(0.3)
    assert e["brier_min_fde"].item() == pytest.approx(0.3 + 0.75**2)
    assert e["miss"].item() == 0.0


def test_k1_takes_the_most_probable_mode(two_modes):
    traj, prob, gt, valid = two_modes
    e = av2_errors(traj, prob, gt, valid, k=1)
    assert e["min_fde"].item() == pytest.approx(0.5)
    assert e["min_ade"].item() == pytest.approx(1 / 6)


@pytest.mark.parametrize(("endpoint_error", "missed"), [(2.0, 0.0), (2.001, 1.0), (1.999, 0.0)])
def test_miss_threshold_is_strictly_greater_than_2m(endpoint_error, missed):
    gt = torch.zeros(1, 3, 2, dtype=torch.float64)
    traj = torch.zeros(1, 1, 3, 2, dtype=torch.float64)
    traj[0, 0, -1, 0] = endpoint_error
    e = av2_errors(traj, torch.ones(1, 1, dtype=torch.float64), gt, torch.ones(1, 3, dtype=torch.bool), k=6)
    assert e["miss"].item() == missed


def test_top_k_selects_most_probable_and_renormalises():
    gt = torch.zeros(1, 2, 2)
    # Mode 0 is perfect but least probable; with k=2 it is dropped.
    traj = torch.stack([torch.full((2, 2), float(i)) for i in range(3)])[None]  # (1, 3, 2, 2)
    prob = torch.tensor([[0.1, 0.3, 0.6]])
    e = av2_errors(traj, prob, gt, torch.ones(1, 2, dtype=torch.bool), k=2)
    assert e["min_fde"].item() == pytest.approx(np.sqrt(2))
    assert e["brier_min_fde"].item() == pytest.approx(np.sqrt(2) + (1 - 0.3 / 0.9) ** 2)


def test_gap_in_ground_truth_uses_valid_steps_and_last_valid_endpoint():
    gt = torch.zeros(1, 4, 2)
    traj = torch.tensor([[[[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [100.0, 0.0]]]])
    valid = torch.tensor([[True, False, True, False]])
    e = av2_errors(traj, torch.ones(1, 1), gt, valid, k=1)
    assert e["min_fde"].item() == pytest.approx(3.0)
    assert e["min_ade"].item() == pytest.approx(2.0)
    none = av2_errors(traj, torch.ones(1, 1), gt, torch.zeros(1, 4, dtype=torch.bool), k=1)
    assert not none["scored"].item()


def test_matches_av2_official_functions_on_random_predictions():
    av2_metrics = pytest.importorskip(
        "av2.datasets.motion_forecasting.eval.metrics",
        reason="av2 is not installed (pip install --no-deps av2)",
    )
    rng = np.random.default_rng(0)
    n, k, t = 50, 6, 60
    gt = rng.normal(size=(n, t, 2)).cumsum(1) * 2
    traj = gt[:, None] + rng.normal(size=(n, k, t, 2)).cumsum(2) * 0.3
    prob = rng.dirichlet(np.ones(k), size=n)
    ours = av2_errors(
        torch.from_numpy(traj),
        torch.from_numpy(prob),
        torch.from_numpy(gt),
        torch.ones(n, t, dtype=torch.bool),
        k,
    )
    for i in range(n):
        fde = av2_metrics.compute_fde(traj[i], gt[i])
        best = int(np.argmin(fde))
        assert ours["min_fde"][i].item() == pytest.approx(fde[best])
        assert ours["min_ade"][i].item() == pytest.approx(av2_metrics.compute_ade(traj[i], gt[i])[best])
        brier = av2_metrics.compute_brier_fde(traj[i], gt[i], prob[i], normalize=True)[best]
        assert ours["brier_min_fde"][i].item() == pytest.approx(brier)
        missed = av2_metrics.compute_is_missed_prediction(traj[i], gt[i])[best]
        assert ours["miss"][i].item() == float(missed)
    assert ours["miss"].sum() > 0 and ours["miss"].sum() < n  # the case exercises both outcomes


def test_metric_class_batches_and_merged_states_equal_one_pass():
    rng = np.random.default_rng(1)
    n, k, t = 20, 6, 10
    gt = torch.from_numpy(rng.normal(size=(n, t, 2)))
    traj = gt[:, None] + torch.from_numpy(rng.normal(size=(n, k, t, 2)))
    prob = torch.from_numpy(rng.dirichlet(np.ones(k), size=n))
    valid = torch.ones(n, t, dtype=torch.bool)
    whole = AV2Metrics(k=6)
    whole.update(traj, prob, gt, valid)
    part_a, part_b = AV2Metrics(k=6), AV2Metrics(k=6)
    part_a.update(traj[:7], prob[:7], gt[:7], valid[:7])
    part_b.update(traj[7:], prob[7:], gt[7:], valid[7:])
    part_a.merge_state(part_b)  # what the ``sum`` reduction does across processes
    expected, merged = whole.compute(), part_a.compute()
    assert set(expected) == {"minADE_6", "minFDE_6", "MR_6", "brier_minFDE_6"}
    errors = av2_errors(traj, prob, gt, valid, 6)
    assert expected["minFDE_6"].item() == pytest.approx(errors["min_fde"].mean().item())
    for key in expected:
        assert merged[key].item() == pytest.approx(expected[key].item())

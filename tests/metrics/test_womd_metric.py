"""WOMDMetrics end to end on a hand-built case: per type/horizon cells, averaging, mAP, merged states."""

from __future__ import annotations

import pytest
import torch

from drive.data.schema import AgentType
from drive.metrics.womd_map import TrajectoryType
from drive.metrics.womd_metric import WOMDMetrics


def _case():
    """Two vehicles (10 m/s along x) and one pedestrian (1 m/s), 2 Hz ground truth, K = 2 modes."""
    p = torch.arange(16, dtype=torch.float64)
    veh_gt = torch.stack([5.0 * (p + 1), torch.zeros(16, dtype=torch.float64)], -1)
    ped_gt = torch.stack([0.5 * (p + 1), torch.zeros(16, dtype=torch.float64)], -1)
    target = torch.stack([veh_gt, veh_gt, ped_gt])  # (3, 16, 2)
    far = veh_gt + torch.tensor([0.0, 100.0], dtype=torch.float64)
    ped_late_miss = ped_gt.clone()
    ped_late_miss[10:, 1] = 2.0  # exact up to 5 s, 2 m lateral error afterwards
    trajectory = torch.stack(
        [
            torch.stack([veh_gt, veh_gt + torch.tensor([0.0, 0.1], dtype=torch.float64)]),  # two matches
            torch.stack([veh_gt, far]),  # one match, one far miss
            torch.stack([ped_late_miss, ped_late_miss + 50.0]),
        ]
    )  # (3, 2, 16, 2)
    confidence = torch.tensor([[0.9, 0.8], [0.7, 0.1], [0.6, 0.4]], dtype=torch.float64)
    overlap = torch.zeros(3, 16, dtype=torch.bool)
    overlap[2, 12] = True
    return dict(
        trajectory=trajectory,
        confidence=confidence,
        target=target,
        target_heading=torch.zeros(3, 16, dtype=torch.float64),
        target_valid=torch.ones(3, 16, dtype=torch.bool),
        speed_mps=torch.tensor([10.0, 10.0, 1.0], dtype=torch.float64),
        object_type=torch.tensor([AgentType.VEHICLE, AgentType.VEHICLE, AgentType.PEDESTRIAN]),
        trajectory_type=torch.full((3,), int(TrajectoryType.STRAIGHT)),
        type_valid=torch.ones(3, dtype=torch.bool),
        overlap=overlap,
    )


def test_hand_computed_cells_and_averages():
    metric = WOMDMetrics()
    metric.update(**_case())
    result = metric.compute()
    veh, ped = result["by_type_horizon"]["vehicle"], result["by_type_horizon"]["pedestrian"]
    for horizon in ("3s", "5s", "8s"):
        assert veh[horizon]["minADE"] == pytest.approx(0.0)
        assert veh[horizon]["miss_rate"] == 0.0
        # Samples .9 TP, .8 FP (duplicate), .7 TP, .1 FP over 2 objects -> AP 5/6; soft drops .8 -> 1.
        assert veh[horizon]["mAP"] == pytest.approx(5 / 6)
        assert veh[horizon]["soft_mAP"] == pytest.approx(1.0)
    assert ped["5s"]["miss_rate"] == 0.0 and ped["8s"]["miss_rate"] == 1.0
    assert ped["8s"]["minFDE"] == pytest.approx(2.0)
    assert ped["8s"]["minADE"] == pytest.approx(2.0 * 6 / 16)
    assert [ped[h]["overlap_rate"] for h in ("3s", "5s", "8s")] == [0.0, 0.0, 1.0]
    assert ped["8s"]["mAP"] == 0.0 and ped["3s"]["mAP"] == pytest.approx(1.0)
    # A horizon averages over types; the overall value over all six cells.
    assert result["by_horizon"]["8s"]["miss_rate"] == pytest.approx(0.5)
    assert result["by_type"]["pedestrian"]["miss_rate"] == pytest.approx(1 / 3)
    assert result["overall"]["miss_rate"] == pytest.approx(1 / 6)
    assert result["overall"]["mAP"] == pytest.approx((3 * 5 / 6 + 2 * 1.0 + 0.0) / 6)


def test_merged_states_equal_one_pass():
    case = _case()
    whole = WOMDMetrics()
    whole.update(**case)
    first, second = WOMDMetrics(), WOMDMetrics()
    first.update(**{k: v[:1] for k, v in case.items()})
    second.update(**{k: v[1:] for k, v in case.items()})
    first.merge_state(second)  # the dist reductions: sums add, sample lists concatenate
    assert first.compute() == whole.compute()


def test_invalid_ground_truth_at_horizon_drops_miss_and_map_samples():
    case = _case()
    case["target_valid"][0, 15] = False  # first vehicle unobserved at 8 s
    metric = WOMDMetrics()
    metric.update(**case)
    veh = metric.compute()["by_type_horizon"]["vehicle"]
    # Only the second vehicle is scored at 8 s: samples .7 TP, .1 FP over one object -> AP 1.
    assert veh["8s"]["mAP"] == pytest.approx(1.0)
    assert veh["3s"]["mAP"] == pytest.approx(5 / 6)


def test_compute_after_sync_turned_sample_lists_into_tensors():
    from torchmetrics.utilities import dim_zero_cat

    metric = WOMDMetrics()
    metric.update(**_case())
    expected = metric.compute()
    metric._computed = None  # drop the cached result
    for name in ("sample_cell", "sample_conf", "sample_tp", "sample_soft_keep"):
        setattr(metric, name, dim_zero_cat(getattr(metric, name)))  # the layout after a ``cat`` sync
    assert metric.compute() == expected


def test_type_other_is_reported_but_not_averaged():
    case = _case()
    case["object_type"] = torch.tensor([AgentType.VEHICLE, AgentType.VEHICLE, AgentType.OTHER])
    metric = WOMDMetrics()
    metric.update(**case)
    result = metric.compute()
    assert result["by_type"]["other"]["miss_rate"] == pytest.approx(1 / 3)
    assert result["overall"]["miss_rate"] == 0.0  # vehicles only
    assert result["by_horizon"]["8s"]["miss_rate"] == 0.0

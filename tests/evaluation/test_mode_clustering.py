"""Endpoint clustering of candidate trajectories: against hand-computed clusters, its invariances, and
the property best-of-K scoring relies on (duplicated candidates collapse back to the originals)."""

from __future__ import annotations

import math

import pytest
import torch

from drive.errors import ConfigError
from drive.evaluation.mode_clustering import cluster_modes


def _lines(ends: torch.Tensor, steps: int = 4) -> torch.Tensor:
    """Straight trajectories from the origin to ``ends [N, M, 2]`` -> ``[N, M, steps, 2]``."""
    fraction = torch.arange(1, steps + 1, dtype=ends.dtype) / steps
    return ends[:, :, None, :] * fraction[:, None]


def test_few_candidates_come_back_sorted_and_normalised():
    traj = _lines(torch.tensor([[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]]))
    prob = torch.tensor([[1.0, 3.0, 2.0]])
    out, p = cluster_modes(traj, prob, 5)
    assert torch.equal(out, traj[:, [1, 2, 0]])
    torch.testing.assert_close(p, torch.tensor([[0.5, 1 / 3, 1 / 6]]))


def test_separated_groups_become_their_weighted_means():
    # Three groups far apart; within each, the centroid is the probability-weighted mean endpoint and the
    # cluster's probability is the group's total.
    ends = torch.tensor([[[0.0, 0.0], [0.2, 0.0], [10.0, 0.0], [10.0, 0.4], [0.0, 10.0], [0.0, 10.3]]])
    prob = torch.tensor([[0.1, 0.3, 0.2, 0.2, 0.15, 0.05]])
    out, p = cluster_modes(_lines(ends), prob, 3)
    torch.testing.assert_close(p, torch.tensor([[0.4, 0.4, 0.2]]))
    got = {tuple(round(v, 4) for v in e.tolist()) for e in out[0, :, -1]}
    assert got == {(0.15, 0.0), (10.0, 0.2), (0.0, 10.075)}
    # Members are straight lines, so the mean trajectory is the line to the mean endpoint.
    torch.testing.assert_close(out, _lines(out[:, :, -1]))


def test_duplicated_candidates_collapse_to_the_originals():
    # Pooling K modes with an identical copy (a perfectly reflection-equivariant model's second view) and
    # clustering back to K returns the K modes: pooling never loses a distinct forecast.
    torch.manual_seed(0)
    traj = torch.cumsum(torch.randn(5, 20, 12, 2), dim=2)
    prob = torch.softmax(torch.randn(5, 20), -1)
    pooled = torch.cat([traj, traj], 1)
    out, p = cluster_modes(pooled, torch.cat([prob, prob], 1) / 2, 20)
    order = torch.sort(prob, dim=-1, descending=True, stable=True).indices
    expected = traj.gather(1, order[:, :, None, None].expand(-1, -1, 12, 2))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(p, prob.gather(1, order))


def test_rigid_motion_and_candidate_order_do_not_matter():
    torch.manual_seed(1)
    traj = torch.cumsum(torch.randn(3, 60, 12, 2), dim=2)
    prob = torch.softmax(torch.randn(3, 60), -1)
    out, p = cluster_modes(traj, prob, 20)
    angle = 0.7
    rot = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shift = torch.tensor([3.0, -5.0])
    moved, p_moved = cluster_modes(traj @ rot.T + shift, prob, 20)
    torch.testing.assert_close(moved, out @ rot.T + shift, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(p_moved, p)
    perm = torch.randperm(60)
    shuffled, p_shuffled = cluster_modes(traj[:, perm], prob[:, perm], 20)
    torch.testing.assert_close(shuffled, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(p_shuffled, p)


def test_clusters_cover_the_candidates_better_than_the_most_probable():
    # Candidates piled up on one endpoint with high probability and spread thinly elsewhere: the K most
    # probable all sit on the pile, the clusters reach the outliers too.
    pile = torch.zeros(1, 30, 2) + torch.tensor([1.0, 0.0])
    spread = torch.stack([torch.tensor([math.cos(a), math.sin(a)]) * 8 for a in torch.linspace(0, 6, 10)])
    ends = torch.cat([pile, spread[None]], 1)  # (1, 40, 2)
    prob = torch.cat([torch.full((1, 30), 0.03), torch.full((1, 10), 0.01)], 1)
    out, p = cluster_modes(_lines(ends), prob, 10)
    reached = torch.cdist(spread[None], out[:, :, -1]).amin(-1)  # (1, 10)
    assert float(reached.max()) < 4.0
    assert float(p.sum()) == pytest.approx(1.0)


def test_zero_probabilities_weigh_candidates_equally():
    ends = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [10.0, 0.0]]])
    out, p = cluster_modes(_lines(ends), torch.zeros(1, 3), 2)
    torch.testing.assert_close(p.sum(-1), torch.ones(1))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "traj, prob, k, message",
    [
        (torch.zeros(2, 5, 3), torch.zeros(2, 5), 2, "trajectory must be"),
        (torch.zeros(2, 5, 3, 2), torch.zeros(2, 4), 2, "probability must be"),
        (torch.zeros(2, 5, 3, 2), torch.zeros(2, 5), 0, "k must be"),
        (
            torch.zeros(2, 5, 3, 2).index_put_((torch.tensor(1),), torch.tensor(float("nan"))),
            torch.zeros(2, 5),
            2,
            "agent row 1 has a non-finite",
        ),
        (torch.zeros(2, 5, 3, 2), torch.tensor([[0.2] * 5, [0.2, float("inf"), 0, 0, 0]]), 2, "agent row 1"),
    ],
)
def test_bad_input_is_refused(traj, prob, k, message):
    with pytest.raises(ConfigError, match=message):
        cluster_modes(traj, prob, k)

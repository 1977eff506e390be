import math

import pytest
import torch

from drive.data.batch import SceneBatch
from drive.errors import ConfigError
from drive.losses import best_mode, future_in_agent_frame, prediction_loss
from drive.models import Prediction


def straight_scene() -> SceneBatch:
    """One scene, two agents, 2 history + 3 future steps (current step 1). Agent 0 (target) at (10, 5)
    facing +y, moving 1 m per step; agent 1 is not a target. Agent 0's last future step is unobserved."""
    t = 5
    pos = torch.zeros(1, 2, t, 2)
    pos[0, 0, :, 0] = 10.0
    pos[0, 0, :, 1] = 5.0 + torch.arange(-1.0, t - 1.0)
    heading = torch.full((1, 2, t), math.pi / 2)
    heading[0, 0, 3] = math.pi / 2 + 0.2
    valid = torch.ones(1, 2, t, dtype=torch.bool)
    valid[0, 0, 4] = False
    pos[0, 0, 4] = 0.0
    return SceneBatch(
        agent_pos=pos,
        agent_heading=heading,
        agent_vel=torch.zeros(1, 2, t, 2),
        agent_size=torch.ones(1, 2, 3),
        agent_type=torch.zeros(1, 2, dtype=torch.long),
        agent_id=torch.arange(2)[None],
        agent_valid=valid,
        agent_mask=torch.ones(1, 2, dtype=torch.bool),
        target_mask=torch.tensor([[True, False]]),
        map_points=torch.zeros(1, 1, 2, 2),
        map_point_mask=torch.zeros(1, 1, 2, dtype=torch.bool),
        map_type=torch.zeros(1, 1, dtype=torch.long),
        map_mask=torch.zeros(1, 1, dtype=torch.bool),
        current_step=1,
        dt_s=0.1,
        scenario_ids=["s"],
    )


def test_ground_truth_in_agent_frame():
    target, heading, valid = future_in_agent_frame(straight_scene(), 3)
    # Facing +y, moving +y: straight ahead along the agent's x axis.
    torch.testing.assert_close(
        target[0, 0], torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]]), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(heading[0, 0], torch.tensor([0.0, 0.2, 0.0]), atol=1e-6, rtol=0)
    assert valid[0, 0].tolist() == [True, True, False]
    # Asking for more steps than recorded pads with invalid steps.
    assert future_in_agent_frame(straight_scene(), 5)[2][0, 0].tolist() == [True, True, False, False, False]


def prediction(offsets: list[float], logits: list[float], scale: float = 1.0) -> Prediction:
    """Both agents get K modes: straight ahead 1, 2, 3 m, shifted sideways by ``offsets[k]``."""
    k = len(offsets)
    ahead = torch.tensor([1.0, 2.0, 3.0])
    traj = torch.zeros(1, 2, k, 3, 2)
    traj[..., 0] = ahead
    traj[..., 1] = torch.tensor(offsets)[:, None]
    return Prediction(
        trajectory=traj,
        scale=torch.full((1, 2, k, 3, 2), scale),
        heading=torch.zeros(1, 2, k, 3),
        logits=torch.tensor(logits).expand(1, 2, k).clone(),
    )


def test_winner_takes_all_laplace_hand_computed():
    pred = prediction([3.0, 0.5, -1.0], [0.0, 1.0, 2.0], scale=2.0)
    losses = prediction_loss(pred, straight_scene(), "laplace")
    # Mode 1 is the closest (0.5 m off); per valid step NLL = Σ_xy log(2b) + |e|/b = 2 log 4 + 0.5/2.
    torch.testing.assert_close(losses["reg"], torch.tensor(2 * math.log(4.0) + 0.25))
    log_probs = torch.log_softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
    torch.testing.assert_close(losses["cls"], -log_probs[1])
    torch.testing.assert_close(losses["heading"], torch.tensor(0.1))  # |0| and |0.2| over 2 valid steps
    torch.testing.assert_close(losses["loss"], losses["reg"] + losses["cls"] + losses["heading"])


def test_gaussian_hand_computed():
    losses = prediction_loss(prediction([0.0, 2.0], [0.0, 0.0], scale=0.5), straight_scene(), "gaussian")
    # Mode 0 is exact: per step Σ_xy log σ + log(2π)/2.
    torch.testing.assert_close(losses["reg"], torch.tensor(2 * (math.log(0.5) + 0.5 * math.log(2 * math.pi))))
    torch.testing.assert_close(losses["cls"], torch.tensor(math.log(2.0)))


def test_best_mode_uses_endpoint_plus_average():
    target = torch.tensor([[[[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]]])  # (1, 1, 3, 2)
    valid = torch.ones(1, 1, 3, dtype=torch.bool)
    modes = torch.zeros(1, 1, 2, 3, 2)
    modes[0, 0, 0] = target[0, 0] + torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 2.0]])  # ADE 2/3, FDE 2
    modes[0, 0, 1] = target[0, 0] + torch.tensor([[0.0, 1.1], [0.0, 1.1], [0.0, 0.5]])  # ADE 0.9, FDE 0.5
    assert best_mode(modes, target, valid).item() == 1
    # The endpoint is the last *valid* step: with step 2 unobserved, mode 0 is exact.
    valid[0, 0, 2] = False
    assert best_mode(modes, target, valid).item() == 0


def test_only_targets_with_future_count():
    scene = straight_scene()
    pred = prediction([0.0, 1.0], [0.0, 0.0])
    pred.trajectory[0, 1] = 100.0  # the non-target agent is far off: must not matter
    base = prediction_loss(pred, scene)
    torch.testing.assert_close(base["reg"], prediction_loss(prediction([0.0, 1.0], [0.0, 0.0]), scene)["reg"])
    scene.target_mask[:] = False
    empty = prediction_loss(pred, scene)
    assert empty["loss"].item() == 0.0


def test_gradient_reaches_only_the_winner():
    pred = prediction([0.3, 1.5], [0.0, 0.0])
    pred.trajectory.requires_grad_(True)
    prediction_loss(pred, straight_scene())["reg"].backward()
    grad = pred.trajectory.grad[0, 0]
    assert grad[1].abs().sum() == 0 and grad[0, :2].abs().sum() > 0 and grad[0, 2].abs().sum() == 0


def test_unknown_likelihood():
    with pytest.raises(ConfigError, match="likelihood"):
        prediction_loss(prediction([0.0], [0.0]), straight_scene(), "cauchy")

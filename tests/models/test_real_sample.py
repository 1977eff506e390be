"""A forward and backward pass on the recorded WOMD sample (83 agents, ~1200 map chunks)."""

import pytest
import torch

from drive.data.batch import collate_scenarios
from drive.losses import prediction_loss
from drive.models import PredictorConfig, TrajectoryPredictor, prediction_to_world
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def womd_batch():
    path = shared_path("womd", "motion_data_one_scenario.tfrecord")
    from drive.datasets import iter_scenarios

    return collate_scenarios(list(iter_scenarios(path)))


@pytest.mark.parametrize("encoding", ["drope_rope", "se2"])
def test_forward_backward_on_womd_sample(womd_batch, encoding):
    batch = womd_batch
    tf = batch.agent_pos.shape[2] - batch.current_step - 1
    torch.manual_seed(0)
    net = TrajectoryPredictor(
        PredictorConfig(
            num_future_steps=tf,
            encoding=encoding,
            hidden_dim=32,
            num_heads=2,
            num_temporal_layers=1,
            num_interaction_layers=1,
            radius_m=50.0,
            dropout=0.0,
        )
    )
    pred = net(batch)
    b, a = batch.agent_mask.shape
    assert pred.trajectory.shape == (b, a, 6, tf, 2)
    assert torch.isfinite(pred.trajectory).all() and torch.isfinite(pred.logits).all()
    losses = prediction_loss(pred, batch)
    assert batch.target_mask.any() and torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    world, prob = prediction_to_world(pred, batch)
    targets = batch.target_mask
    # An untrained model predicts near its agent: within a few metres of the current position.
    now = batch.agent_pos[:, :, batch.current_step][:, :, None, None]
    assert (world - now)[targets].norm(dim=-1).median() < 50.0
    torch.testing.assert_close(prob.sum(-1), torch.ones(b, a))

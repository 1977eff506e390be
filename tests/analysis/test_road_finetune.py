"""RoAd on a trajectory model: identity when added, only adapter parameters train, and adapting them
alone lowers the loss (on a synthetic batch and on real ETH/UCY windows)."""

from __future__ import annotations

import torch

from drive.analysis.road_finetune import RoAdSettings, eth_ucy_scenes, finetune_road, result_table
from drive.analysis.training import QuickTrainSettings
from drive.losses import prediction_loss
from drive.models import PredictorConfig, TrajectoryPredictor
from drive.rope.variants.road import add_road, road_parameters
from tests.conftest import shared_path
from tests.models.synthetic import make_batch


def _model(tf=3):
    torch.manual_seed(0)
    config = PredictorConfig(
        num_future_steps=tf,
        hidden_dim=16,
        num_heads=1,
        num_modes=2,
        dropout=0.0,
        num_temporal_layers=1,
        num_interaction_layers=1,
        refine=False,
        xy_slots=2,
        heading_slots=1,
    )
    return TrajectoryPredictor(config)


def test_adapter_only_training_on_a_tiny_batch():
    model = _model()
    batch = make_batch()
    with torch.no_grad():
        before = model(batch)
    wrapped = add_road(model)
    with torch.no_grad():
        same = model(batch)
    torch.testing.assert_close(same.trajectory, before.trajectory, rtol=0, atol=0)  # identity at init
    assert len(wrapped) > 10 and all(p.requires_grad for p in road_parameters(model))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".adapter." in n for n in trainable)
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt = torch.optim.Adam(road_parameters(model), lr=3e-2)
    losses = []
    for _ in range(15):
        loss = prediction_loss(model(batch), batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)


def test_finetune_road_on_eth_ucy_windows():
    root = shared_path("eth_ucy")
    quick = QuickTrainSettings(num_future_steps=12)
    scenes = eth_ucy_scenes(root, "hotel", "val", quick, limit=6)
    assert len(scenes) == 6 and scenes[0].agents.position.shape[1] == 20
    model = _model(tf=12)
    settings = RoAdSettings(max_steps=10, max_minutes=1.0, batch_size=3, lr=3e-2)
    result = finetune_road(model, scenes, scenes, settings, log=lambda _: None)
    assert result.adapted["loss"] < result.frozen["loss"]
    assert 0 < result.trainable_parameters < 0.2 * result.total_parameters
    assert "+ RoAd adapters" in result_table(result)

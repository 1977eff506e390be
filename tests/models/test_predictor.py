import math

import pytest
import torch

from drive.errors import ConfigError
from drive.losses import prediction_loss
from drive.models import ENCODINGS, PredictorConfig, TrajectoryPredictor, prediction_to_world
from tests.models.synthetic import make_batch, pad, permute_agents, transform

TF = 3


def model(encoding: str, dtype=torch.float32, **overrides) -> TrajectoryPredictor:
    torch.manual_seed(0)
    cfg = dict(
        num_future_steps=TF,
        encoding=encoding,
        hidden_dim=32,
        num_heads=2,
        dropout=0.0,
        num_modes=3,
        num_temporal_layers=1,
        num_interaction_layers=1,
    )
    net = TrajectoryPredictor(PredictorConfig(**(cfg | overrides)))
    return net.to(dtype).eval()


def flat(pred) -> torch.Tensor:
    """All outputs per agent: ``[B, A, K*(5*Tf + 1)]``."""
    parts = [pred.trajectory.flatten(3), pred.scale.flatten(3), pred.heading, pred.logits[..., None]]
    return torch.cat(parts, dim=-1).flatten(2)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_shapes_and_gradients(encoding):
    batch = make_batch()
    net = model(encoding, radius_m=40.0).train()
    pred = net(batch)
    b, a = batch.agent_mask.shape
    assert pred.trajectory.shape == (b, a, 3, TF, 2) and pred.scale.shape == (b, a, 3, TF, 2)
    assert pred.heading.shape == (b, a, 3, TF) and pred.logits.shape == (b, a, 3)
    assert (pred.scale > 0).all()
    prediction_loss(pred, batch)["loss"].backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    assert any(param.grad.abs().sum() > 0 for param in net.parameters())


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_padding_invariance(encoding):
    batch = make_batch(dtype=torch.float64)
    net = model(encoding, torch.float64)
    with torch.no_grad():
        base = flat(net(batch))
        padded = flat(net(pad(batch, extra_agents=3, extra_map=4)))
    a = batch.agent_mask.shape[1]
    keep = batch.agent_mask
    torch.testing.assert_close(padded[:, :a][keep], base[keep], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("encoding", ["drope_rope", "rope_2d", "rpe", "se2"])
def test_translation_invariance(encoding):
    """Positions go in as given (no re-centring), so only the encoding can make this hold."""
    batch = make_batch(dtype=torch.float64)
    net = model(encoding, torch.float64, scene_origin="none")
    with torch.no_grad():
        base = flat(net(batch))
        moved = flat(net(transform(batch, 0.0, (230.0, -145.0))))
    keep = batch.agent_mask
    # Rotary angles are fp32 by design; the tolerance is that rounding on ~250 m positions.
    tol = 1e-9 if encoding in ("rpe", "se2") else 5e-5
    torch.testing.assert_close(moved[keep], base[keep], atol=tol, rtol=tol)


def test_absolute_encoding_is_not_translation_invariant_without_recentring():
    """The check above has teeth: scene-frame positions as features do change under translation, and
    re-centring on the targets (the default origin) removes that dependence."""
    batch = make_batch(dtype=torch.float64)
    moved_batch = transform(batch, 0.0, (230.0, -145.0))
    with torch.no_grad():
        raw = model("absolute", torch.float64, scene_origin="none")
        assert (flat(raw(moved_batch)) - flat(raw(batch)))[batch.agent_mask].abs().max() > 1e-3
        centred = model("absolute", torch.float64)
        torch.testing.assert_close(flat(centred(moved_batch)), flat(centred(batch)), atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("encoding", ["rpe", "se2"])
@pytest.mark.parametrize("angle", [math.pi / 2, -2.9])
def test_rotation_invariance(encoding, angle):
    batch = make_batch(dtype=torch.float64)
    net = model(encoding, torch.float64, scene_origin="none")
    with torch.no_grad():
        base = flat(net(batch))
        moved = flat(net(transform(batch, angle, (17.0, -6.0))))
    keep = batch.agent_mask
    torch.testing.assert_close(moved[keep], base[keep], atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("encoding", ["drope_rope", "rope_2d"])
def test_rotary_xy_encodings_are_not_rotation_invariant(encoding, capsys):
    """RoPE on scene-frame x/y sees displacements in the scene frame, so rotating the scene changes the
    predictions in each agent's frame (DRoPE makes only the heading part relative). Size reported."""
    batch = make_batch(dtype=torch.float64)
    net = model(encoding, torch.float64)
    with torch.no_grad():
        base = net(batch)
        moved = net(transform(batch, math.pi / 2, (0.0, 0.0)))
    keep = batch.agent_mask
    change = (moved.trajectory - base.trajectory)[keep].abs().max().item()
    spread = base.trajectory[keep].abs().max().item()
    with capsys.disabled():
        print(
            f"\n{encoding}: rotating the scene by 90° moves predictions by up to {change:.3g} m "
            f"(untrained model, outputs up to {spread:.3g} m)"
        )
    assert change > 1e-3 * spread


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_agent_permutation_equivariance(encoding):
    batch = make_batch(dtype=torch.float64)
    net = model(encoding, torch.float64)
    order = torch.tensor([3, 0, 4, 2, 1])
    with torch.no_grad():
        base = flat(net(batch))
        permuted = flat(net(permute_agents(batch, order)))
    keep = batch.agent_mask[:, order]
    torch.testing.assert_close(permuted[keep], base[:, order][keep], atol=1e-12, rtol=1e-12)


def test_prediction_to_world_inverts_agent_frame():
    batch = make_batch()
    net = model("drope_rope")
    with torch.no_grad():
        pred = net(batch)
    now = batch.current_step
    pred.trajectory = torch.zeros_like(pred.trajectory)
    pred.trajectory[..., 0, 0] = 2.0  # 2 m straight ahead at the first step
    world, prob = prediction_to_world(pred, batch)
    heading = batch.agent_heading[:, :, now]
    ahead = batch.agent_pos[:, :, now] + 2.0 * torch.stack([heading.cos(), heading.sin()], -1)
    torch.testing.assert_close(world[:, :, 2, 0], ahead)
    torch.testing.assert_close(world[:, :, 1, 1], batch.agent_pos[:, :, now])
    torch.testing.assert_close(prob.sum(-1), torch.ones_like(prob[..., 0]))


@pytest.mark.parametrize(
    "field,value",
    [
        ("encoding", "rope3d"),
        ("likelihood", "cauchy"),
        ("hidden_dim", 33),
        ("xy_slots", 3),
        ("xy_slots", 8),
        ("num_modes", 0),
        ("radius_m", -1.0),
        ("se2_pose_blocks", 5),
        ("heading_heads", 2),
    ],
)
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        PredictorConfig(**(dict(num_future_steps=TF, hidden_dim=32, num_heads=2) | {field: value}))


@pytest.mark.parametrize("encoding", ["drope_rope", "se2"])
def test_model_fits_a_small_batch(encoding):
    """Gradients are useful end to end: a few Adam steps on one batch cut the loss substantially."""
    batch = make_batch(num_steps=8, current_step=4)
    net = model(encoding).train()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = prediction_loss(net(batch), batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses[::10]

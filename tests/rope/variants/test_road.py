"""RoAd: identity at init, the 2x2 maps of each variant against an explicit reference, mixed-adapter
batches, merging, norms, and adapter-only training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from drive.errors import ConfigError
from drive.rope.variants.road import (
    ROAD_VARIANTS,
    RoAdAdapter,
    RoAdLinear,
    add_road,
    road_parameters,
    set_active_adapter,
)


def _randomise(adapter: RoAdAdapter, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        adapter.theta.copy_(torch.rand(adapter.theta.shape, generator=gen) * 6.0 - 3.0)
        adapter.alpha.copy_(torch.rand(adapter.alpha.shape, generator=gen) + 0.5)


def _reference(h, adapter: RoAdAdapter, idx: int):
    """Slow reference: an explicit 2x2 matrix per pair, read straight from the parameter definitions."""
    D, g, variant = adapter.dim, adapter.group_size, adapter.variant
    th, al = adapter.theta[idx].double(), adapter.alpha[idx].double()
    out = torch.empty_like(h, dtype=torch.float64)
    for group in range(D // g):
        for i in range(g // 2):
            if adapter.layout == "half":
                a, b = group * g + i, group * g + i + g // 2
            else:
                a, b = group * g + 2 * i, group * g + 2 * i + 1
            if variant == "road_1":
                p = group * g // 2 + i  # pair index in parameter order
                ca = cb = al[p] * torch.cos(th[p])
                sa = sb = al[p] * torch.sin(th[p])
            elif variant == "road_2":
                ca, sa = al[a] * torch.cos(th[a]), al[a] * torch.sin(th[a])
                cb, sb = al[b] * torch.cos(th[b]), al[b] * torch.sin(th[b])
            else:
                ca, cb = al[0, a] * torch.cos(th[0, a]), al[0, b] * torch.cos(th[0, b])
                sa, sb = al[1, a] * torch.sin(th[1, a]), al[1, b] * torch.sin(th[1, b])
            ha, hb = h[..., a].double(), h[..., b].double()
            out[..., a] = ca * ha - sa * hb
            out[..., b] = sb * ha + cb * hb
    return out


@pytest.mark.parametrize("variant", ROAD_VARIANTS)
@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_identity_at_init(variant, layout):
    adapter = RoAdAdapter(16, variant=variant, group_size=8, num_adapters=3, layout=layout)
    h = torch.randn(4, 5, 16)
    assert torch.equal(adapter(h), h)
    assert torch.equal(adapter(h, torch.tensor([0, 2, 1, 2])), h)


@pytest.mark.parametrize("variant", ROAD_VARIANTS)
@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_matches_explicit_pair_matrices(variant, layout):
    adapter = RoAdAdapter(12, variant=variant, group_size=4, num_adapters=2, layout=layout)
    _randomise(adapter, seed=1)
    h = torch.randn(3, 12, dtype=torch.float64)
    for idx in range(2):
        torch.testing.assert_close(adapter(h, idx), _reference(h, adapter, idx), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("variant", ROAD_VARIANTS)
def test_mixed_adapter_batch_equals_one_at_a_time(variant):
    adapter = RoAdAdapter(16, variant=variant, group_size=8, num_adapters=3)
    _randomise(adapter, seed=2)
    h = torch.randn(6, 7, 16)
    ids = torch.tensor([2, 0, 1, 1, 2, 0])
    mixed = adapter(h, ids)
    for b in range(6):
        torch.testing.assert_close(mixed[b], adapter(h[b : b + 1], int(ids[b]))[0], rtol=0, atol=0)
    assert not torch.allclose(mixed[0], adapter(h[0:1], 0)[0])  # the ids do select different adapters


def test_road1_unit_alpha_preserves_pair_norms_and_road4_can_shear():
    adapter = RoAdAdapter(8, variant="road_1")
    with torch.no_grad():
        adapter.theta.uniform_(-3, 3)
    h = torch.randn(10, 8, dtype=torch.float64)
    torch.testing.assert_close(adapter(h).norm(dim=-1), h.norm(dim=-1))
    four = RoAdAdapter(8, variant="road_4")
    _randomise(four, seed=3)
    assert not torch.allclose(four(h).norm(dim=-1), h.norm(dim=-1))


@pytest.mark.parametrize("variant", ROAD_VARIANTS)
def test_merged_linear_equals_adapted_linear(variant):
    layer = RoAdLinear(nn.Linear(5, 8), variant=variant, group_size=4)
    _randomise(layer.adapter, seed=4)
    x = torch.randn(9, 5)
    torch.testing.assert_close(layer.merged()(x), layer(x), rtol=1e-5, atol=1e-5)


def test_gradients_reach_only_the_adapter_and_training_it_reduces_loss():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8))
    target_model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8))
    target_model.load_state_dict(model.state_dict())
    target_adapter = RoAdAdapter(8)
    _randomise(target_adapter, seed=5)  # the "new source": same network, outputs rotated and scaled
    x = torch.randn(64, 6)
    y = target_adapter(target_model(x)).detach()
    wrapped = add_road(model)
    assert wrapped == ["0", "2"]
    params = road_parameters(model)
    assert sum(p.numel() for p in params) == 16 + 8  # road_1: one (θ, α) per pair
    assert [n for n, p in model.named_parameters() if p.requires_grad] == [
        "0.adapter.theta",
        "0.adapter.alpha",
        "2.adapter.theta",
        "2.adapter.alpha",
    ]
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    before = nn.functional.mse_loss(model(x), y).item()
    opt = torch.optim.Adam(params, lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    after = nn.functional.mse_loss(model(x), y).item()
    assert after < 0.1 * before
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n])


def test_active_adapter_and_bad_settings():
    model = nn.Sequential(nn.Linear(4, 4))
    add_road(model, num_adapters=2)
    _randomise(model[0].adapter, seed=6)
    x = torch.randn(3, 4)
    assert add_road(model) == []  # an adapted layer is not wrapped twice
    set_active_adapter(model, 1)
    torch.testing.assert_close(model(x), model[0](x, 1))
    with pytest.raises(ConfigError, match="adapter must be in"):
        set_active_adapter(model, 2)
    with pytest.raises(ConfigError, match="variant"):
        RoAdAdapter(8, variant="road_3")
    with pytest.raises(ConfigError, match="group_size"):
        RoAdAdapter(8, group_size=3)

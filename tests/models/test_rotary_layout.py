"""``rotary_layout``: the two channel pairings give the same model up to a fixed permutation of the
learned query/key projections, and the decoder's attention-only steps carry no feed-forward."""

import pytest
import torch

from drive.errors import ConfigError
from drive.models import PredictorConfig, TrajectoryPredictor
from drive.nn import AttentionBlock, PoseRotaryAttention
from drive.rope import RotaryAttention
from tests.models.synthetic import make_batch
from tests.models.test_predictor import model


def _model(encoding: str, layout: str) -> TrajectoryPredictor:
    return model(encoding, torch.float64, num_temporal_layers=2, rotary_layout=layout)


def _half_to_interleaved(head_dim: int, num_slots: int) -> torch.Tensor:
    """Index ``p [Dh]``: interleaved channel c reads half-layout channel p[c]: (j, j+S) -> (2j, 2j+1)."""
    order = torch.arange(head_dim)
    for j in range(num_slots):
        order[2 * j], order[2 * j + 1] = j, j + num_slots
    return order


def _slots_by_module(net: TrajectoryPredictor) -> dict[int, int]:
    """id(RotaryAttention) -> rotated slots per head, read from the frequency tables that feed it."""
    slots = {}
    time_slots = net.encoder.time_freqs.shape[-2]
    for module in net.modules():
        if isinstance(module, PoseRotaryAttention):
            slots[id(module.attention)] = module.freqs.shape[-2]
    for module in net.modules():
        if isinstance(module, RotaryAttention) and id(module) not in slots:
            slots[id(module)] = time_slots  # temporal, decoder history and mode attention use time RoPE
    return slots


@pytest.mark.parametrize("encoding", ["drope_rope", "rope_2d"])
def test_layouts_agree_up_to_permuting_query_and_key_projections(encoding):
    half, interleaved = _model(encoding, "half"), _model(encoding, "interleaved")
    interleaved.load_state_dict(half.state_dict())
    slots = _slots_by_module(interleaved)
    permuted = 0
    with torch.no_grad():
        for module in interleaved.modules():
            if not isinstance(module, RotaryAttention):
                continue
            order = _half_to_interleaved(module.head_dim, slots[id(module)])
            rows = (torch.arange(module.num_heads)[:, None] * module.head_dim + order).flatten()  # (D,)
            for proj in (module.q_proj, module.k_proj):
                proj.weight.copy_(proj.weight[rows])
                proj.bias.copy_(proj.bias[rows])
            permuted += 1
    assert permuted >= 6
    batch = make_batch(dtype=torch.float64)
    with torch.no_grad():
        expected, got = half(batch), interleaved(batch)
        unpermuted = _model(encoding, "interleaved")
        unpermuted.load_state_dict(half.state_dict())
        plain = unpermuted(batch)
    torch.testing.assert_close(got.trajectory, expected.trajectory, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-10, rtol=1e-10)
    # Without the permutation the same weights give another model: the layout is not a no-op.
    assert not torch.allclose(plain.trajectory, expected.trajectory, atol=1e-6)


def test_rotary_layout_is_validated():
    with pytest.raises(ConfigError, match="rotary_layout"):
        PredictorConfig(rotary_layout="diagonal")


def test_attention_only_block_adds_the_attention_and_nothing_else():
    torch.manual_seed(0)
    block = AttentionBlock(RotaryAttention(16, 2), 16, cross=True, ffn_mult=0).eval()
    assert block.ffn is None
    x, context = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    expected = x + block.attention(block.norm_query(x), block.norm_context(context), None, None)
    torch.testing.assert_close(block(x, context, None, None), expected)
    with pytest.raises(ValueError, match="ffn_mult"):
        AttentionBlock(RotaryAttention(16, 2), 16, cross=True, ffn_mult=-1)


def test_decoder_rounds_have_one_feed_forward():
    net = _model("drope_rope", "interleaved")
    for layer in [*net.decoder.layers, *net.decoder.refine_layers]:
        assert layer.history.ffn is None and layer.map.ffn is None and layer.agents.ffn is None
        assert layer.modes.ffn is not None

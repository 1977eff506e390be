"""RotaryAttention equals an explicit slow reference, with padding and attention masks."""

from __future__ import annotations

import math

import pytest
import torch

from drive.rope import RotaryAttention, rotate


def _slow_reference(module, query, key_value, q_angle, k_angle, key_padding_mask, attn_mask):
    """Per batch, per head, per query: explicit scores, softmax over allowed keys, weighted sum."""
    B, Nq, D = query.shape
    Nk, H, Dh = key_value.shape[1], module.num_heads, module.head_dim
    q = module.q_proj(query).view(B, Nq, H, Dh)
    k = module.k_proj(key_value).view(B, Nk, H, Dh)
    v = module.v_proj(key_value).view(B, Nk, H, Dh)
    if q_angle is not None:
        q = rotate(q, q_angle, module.layout)
    if k_angle is not None:
        k = rotate(k, k_angle, module.layout)
    heads = torch.zeros(B, Nq, H, Dh, dtype=query.dtype)
    for b in range(B):
        for h in range(H):
            for i in range(Nq):
                allowed = [
                    j
                    for j in range(Nk)
                    if (key_padding_mask is None or key_padding_mask[b, j])
                    and (attn_mask is None or attn_mask[b, i, j])
                ]
                if not allowed:
                    continue
                scores = torch.stack([q[b, i, h] @ k[b, j, h] / math.sqrt(Dh) for j in allowed])
                weights = torch.softmax(scores, dim=0)
                heads[b, i, h] = sum(w * v[b, j, h] for w, j in zip(weights, allowed))
    out = module.out_proj(heads.reshape(B, Nq, D))
    allowed = torch.ones(B, Nq, Nk, dtype=torch.bool)
    if key_padding_mask is not None:
        allowed &= key_padding_mask[:, None, :]
    if attn_mask is not None:
        allowed &= attn_mask
    empty = ~allowed.any(-1)  # (B, Nq)
    return out.masked_fill(empty[..., None], 0.0)


@pytest.mark.parametrize("layout", ["half", "interleaved"])
@pytest.mark.parametrize("return_weights", [False, True])
@pytest.mark.parametrize("masks", ["both", "padding", "attn"])
def test_cross_attention_matches_slow_reference_with_masks(
    layout: str, return_weights: bool, masks: str
) -> None:
    torch.manual_seed(0)
    B, Nq, Nk, D, H, S = 2, 5, 7, 16, 2, 3  # S < head_dim/2: partial rotation
    module = RotaryAttention(D, H, layout=layout).double().eval()
    query, key_value = torch.randn(B, Nq, D).double(), torch.randn(B, Nk, D).double()
    q_angle, k_angle = torch.randn(B, Nq, H, S).double() * 3, torch.randn(B, Nk, H, S).double() * 3
    key_padding_mask = torch.rand(B, Nk) > 0.3
    key_padding_mask[1, :] = False  # a scene with no valid key at all
    attn_mask = torch.rand(B, Nq, Nk) > 0.3
    attn_mask[0, 2, :] = False  # one query with no allowed key
    key_padding_mask = None if masks == "attn" else key_padding_mask
    attn_mask = None if masks == "padding" else attn_mask
    with torch.no_grad():
        result = module(query, key_value, q_angle, k_angle, key_padding_mask, attn_mask, return_weights)
        expected = _slow_reference(module, query, key_value, q_angle, k_angle, key_padding_mask, attn_mask)
    out = result[0] if return_weights else result
    assert not torch.isnan(out).any()
    torch.testing.assert_close(out, expected)
    if key_padding_mask is not None:
        assert torch.equal(out[1], torch.zeros_like(out[1]))
    if attn_mask is not None:
        assert torch.equal(out[0, 2], torch.zeros(D).double())
    if return_weights:
        weights = result[1]
        assert weights.shape == (B, H, Nq, Nk)
        allowed = torch.ones(B, 1, Nq, Nk, dtype=torch.bool)
        if key_padding_mask is not None:
            allowed = allowed & key_padding_mask[:, None, None, :]
        if attn_mask is not None:
            allowed = allowed & attn_mask[:, None]
        assert torch.equal(
            weights[~allowed.expand_as(weights)], torch.zeros_like(weights[~allowed.expand_as(weights)])
        )
        row_sum = weights.sum(-1)
        has_key = allowed.any(-1).expand_as(row_sum)
        torch.testing.assert_close(row_sum[has_key], torch.ones_like(row_sum[has_key]))


def test_self_attention_without_angles_or_masks_matches_reference() -> None:
    torch.manual_seed(1)
    module = RotaryAttention(12, 3, bias=False).double().eval()
    x = torch.randn(2, 4, 12).double()
    with torch.no_grad():
        torch.testing.assert_close(
            module(x, x, None, None), _slow_reference(module, x, x, None, None, None, None)
        )


def test_backward_reaches_inputs_and_parameters() -> None:
    module = RotaryAttention(8, 2)
    x = torch.randn(2, 5, 8, requires_grad=True)
    angle = torch.randn(2, 5, 2, 2)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[0] = False
    module(x, x, angle, angle, key_padding_mask=mask).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in module.parameters())


def test_mask_shape_errors_name_the_argument() -> None:
    module = RotaryAttention(8, 2)
    x = torch.randn(1, 3, 8)
    with pytest.raises(ValueError, match="key_padding_mask"):
        module(x, x, None, None, key_padding_mask=torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="attn_mask"):
        module(x, x, None, None, attn_mask=torch.ones(1, 3, 3))


def test_logit_scale_equals_scaling_the_queries() -> None:
    torch.manual_seed(2)
    module = RotaryAttention(16, 2).double().eval()
    x = torch.randn(2, 5, 16).double()
    angle = torch.randn(2, 5, 2, 4).double()
    mask = torch.rand(2, 5) > 0.3
    with torch.no_grad():
        fused = module(x, x, angle, angle, key_padding_mask=mask, logit_scale=1.7)
        explicit, _ = module(x, x, angle, angle, key_padding_mask=mask, return_weights=True, logit_scale=1.7)
        module.q_proj.weight.mul_(1.7)  # q -> 1.7 q scales every logit by 1.7
        module.q_proj.bias.mul_(1.7)
        expected = _slow_reference(module, x, x, angle, angle, mask, None)
    torch.testing.assert_close(fused, expected)
    torch.testing.assert_close(explicit, expected)

"""The probe's edits on a bare RotaryAttention: a common shift is a true invariance, removing RoPE or
offsetting the queries is not, and the content edit moves keys but not values or positions."""

from __future__ import annotations

import pytest
import torch

from drive.errors import ConfigError
from drive.rope import RotaryAttention, axial_frequencies, geometric_frequencies, rope_angles
from drive.rope.variants.probe import (
    RotaryEdit,
    capture_output,
    edit_rotary,
    position_delta,
    relative_change,
    valid_key_permutation,
)


def _setup(seed=0):
    torch.manual_seed(seed)
    attn = RotaryAttention(16, 2).double().eval()
    freqs = axial_frequencies([(0, geometric_frequencies(4, 100.0))], 1, 2).double()  # (H, S, 1)
    x = torch.randn(2, 7, 16, dtype=torch.float64)
    pos = torch.arange(7, dtype=torch.float64)[None, :, None].expand(2, -1, -1)  # (B, N, 1)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 5:] = False
    return attn, freqs, x, pos, mask


def _run(attn, x, angle, mask):
    return attn(x, x, angle, angle, key_padding_mask=mask)


def test_shift_is_a_position_shift_and_changes_nothing():
    attn, freqs, x, pos, mask = _setup()
    angle = rope_angles(pos, freqs)
    reference = _run(attn, x, angle, mask)
    delta = position_delta(freqs, (13.5,))
    torch.testing.assert_close(delta, rope_angles(torch.tensor([13.5], dtype=torch.float64), freqs))
    with edit_rotary(attn, RotaryEdit("shift", delta)):
        shifted = _run(attn, x, angle, mask)
    # The same as rotating at positions + 13.5, and the same as no shift (relative encoding).
    torch.testing.assert_close(
        shifted, _run(attn, x, rope_angles(pos + 13.5, freqs), mask), rtol=1e-5, atol=1e-6
    )
    torch.testing.assert_close(shifted, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["offset", "remove", "content"])
def test_other_edits_do_change_the_output(kind):
    attn, freqs, x, pos, mask = _setup()
    angle = rope_angles(pos, freqs)
    reference = _run(attn, x, angle, mask)
    edit = RotaryEdit(kind, position_delta(freqs, (2.0,)) if kind == "offset" else None)
    store = []
    with capture_output(attn, store), edit_rotary(attn, edit):
        edited = _run(attn, x, angle, mask)
    assert relative_change(edited, reference) > 1e-3
    assert torch.equal(store[0][0], edited) and torch.equal(store[0][1], mask)  # self-attention rows
    if kind == "offset":  # queries moved by +2 is rotating the queries at pos + 2
        moved = attn(x, x, rope_angles(pos + 2.0, freqs), angle, key_padding_mask=mask)
        torch.testing.assert_close(edited, moved, rtol=1e-5, atol=1e-6)
    if kind == "remove":
        torch.testing.assert_close(edited, _run(attn, x, None, mask))
    # Hooks are gone after the block.
    torch.testing.assert_close(_run(attn, x, angle, mask), reference)


def test_content_edit_without_rope_is_a_key_permutation():
    """Without rotation, permuting keys alone equals permuting the key projection's rows by hand."""
    attn, _, x, _, mask = _setup(1)
    with edit_rotary(attn, RotaryEdit("content", seed=3)):
        edited = attn(x, x, None, None, key_padding_mask=mask)
    index = valid_key_permutation(mask, torch.Generator().manual_seed(3))
    q = attn.q_proj(x).view(2, 7, 2, 8)
    k = attn.k_proj(x).gather(1, index[..., None].expand(-1, -1, 16)).view(2, 7, 2, 8)
    v = attn.v_proj(x).view(2, 7, 2, 8)
    scores = torch.einsum("bihd,bjhd->bhij", q, k) / 8**0.5
    scores = scores.masked_fill(~mask[:, None, None], float("-inf"))
    out = attn.out_proj(torch.einsum("bhij,bjhd->bihd", scores.softmax(-1), v).reshape(2, 7, 16))
    torch.testing.assert_close(edited, out)


def test_valid_key_permutation_stays_within_valid_keys():
    valid = torch.tensor([[True, False, True, True, False, True]])
    index = valid_key_permutation(valid, torch.Generator().manual_seed(0))
    assert sorted(index[0, valid[0]].tolist()) == [0, 2, 3, 5]
    assert index[0, 1].item() in (1, 4) and index[0, 4].item() in (1, 4)
    assert sorted(index[0].tolist()) == list(range(6))


def test_edit_checks():
    with pytest.raises(ConfigError, match="kind"):
        RotaryEdit("scramble")
    with pytest.raises(ConfigError, match="delta"):
        RotaryEdit("shift")

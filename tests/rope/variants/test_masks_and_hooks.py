"""PSC, p-RoPE, HiRoPE, windowed RoPE (A²ATS) and RoPElite (EliteKV)."""

from __future__ import annotations

import pytest
import torch

from drive.errors import ConfigError
from drive.rope import geometric_frequencies, text_positions
from drive.rope.variants import (
    PhaseShiftCalibration,
    elite_frequencies,
    hierarchical_frequencies,
    hierarchical_positions,
    proportional_frequencies,
    rank_elite_slots,
    windowed_rope_scores,
)
from tests.rope.variants._helpers import random_qk, rotated_scores

F16 = geometric_frequencies(16)[None, :, None]  # (1, 16, 1)


def test_psc_is_identity_at_init_and_bounded_after_training():
    psc = PhaseShiftCalibration(num_heads=3, head_dim=8)
    x = torch.randn(5, 3, 8)
    assert torch.equal(psc(x), x)
    with torch.no_grad():
        psc.up.normal_(std=0.3)
    coeff = psc.coefficient(x)
    assert bool(((coeff >= 0.5) & (coeff <= 1.5)).all()) and not torch.allclose(coeff, torch.ones_like(coeff))
    assert torch.allclose(psc(x), x * coeff)


def test_psc_heads_are_independent():
    psc = PhaseShiftCalibration(num_heads=2, head_dim=4)
    with torch.no_grad():
        psc.up.normal_()
    x = torch.randn(6, 2, 4)
    y = x.clone()
    y[:, 1] += 1.0  # change head 1 only
    assert torch.equal(psc(x)[:, 0], psc(y)[:, 0])


def test_p_rope_endpoints_and_kept_values():
    F = geometric_frequencies(64)[None, :, None].repeat(2, 1, 1)
    assert torch.equal(proportional_frequencies(F, 1.0), F)
    assert torch.equal(proportional_frequencies(F, 0.0), torch.zeros_like(F))
    kept = proportional_frequencies(F, 0.25)
    assert torch.equal(kept[:, :16], F[:, :16]) and torch.equal(kept[:, 16:], torch.zeros_like(F[:, 16:]))
    assert torch.equal(
        proportional_frequencies(geometric_frequencies(64), 0.75)[:48], geometric_frequencies(64)[:48]
    )


def test_p_rope_zero_is_position_free_and_dropped_slots_are_invariant():
    q, k = random_qk(6, 1, 32)
    pos, shifted = text_positions(6), text_positions(6) * 7 + 3
    nope = proportional_frequencies(F16, 0.0)
    assert torch.allclose(rotated_scores(q, k, pos, pos, nope), rotated_scores(q, k, shifted, pos, nope))
    half = proportional_frequencies(F16, 0.5)  # slots 8..15 dropped: zero them in q and the rest changes
    q_dropped = q.clone()
    q_dropped[..., :8] = 0
    q_dropped[..., 16:24] = 0  # half layout: pair i = (i, i + 16)
    assert torch.allclose(
        rotated_scores(q_dropped, k, pos, pos, half), rotated_scores(q_dropped, k, shifted, pos, half)
    )


def test_hirope_one_level_is_rope():
    assert torch.equal(hierarchical_frequencies([16]), F16)
    positions = hierarchical_positions(torch.zeros(7, 0, dtype=torch.long))
    assert torch.equal(positions, text_positions(7))


def test_hirope_positions_reset_per_line():
    lines = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    positions = hierarchical_positions(lines)
    assert positions[:, 0].tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 3]
    assert positions[:, 1].tolist() == lines.tolist()


def test_hirope_scores_depend_only_on_per_level_offsets():
    F = hierarchical_frequencies([10, 6])  # token level on 10 fast slots, line level on 6 slow ones
    assert F.shape == (1, 16, 2)
    q, k = random_qk(4, 1, 32, seed=1)
    pos_q = torch.tensor([[0, 5], [3, 5], [1, 9], [2, 2]])
    pos_k = torch.tensor([[1, 4], [0, 0], [4, 9], [7, 1]])
    shift = torch.tensor([[11, 2]])
    assert torch.allclose(
        rotated_scores(q, k, pos_q, pos_k, F), rotated_scores(q, k, pos_q + shift, pos_k + shift, F)
    )
    # Changing the line index changes nothing on the token-level slots.
    only_token = F.clone()
    only_token[:, 10:] = 0
    moved = pos_q + torch.tensor([[0, 40]])
    assert torch.allclose(
        rotated_scores(q, k, pos_q, pos_k, only_token), rotated_scores(q, k, moved, pos_k, only_token)
    )


def _wrope_case():
    q, k = random_qk(1, 2, 32, seed=2)
    keys = torch.randn(40, 2, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    return q, keys, torch.tensor([100]), torch.arange(61, 101)  # query at 100, keys 61..100


def test_windowed_rope_is_exact_inside_the_window_and_sinks():
    q, keys, q_pos, k_pos = _wrope_case()
    F = F16.repeat(2, 1, 1)
    exact = rotated_scores(q, keys, q_pos[:, None], k_pos[:, None], F)
    approx = windowed_rope_scores(q, keys, q_pos, k_pos, F, window=8, far_distance=30, num_sinks=64)
    inside = (100 - k_pos < 8) | (k_pos < 64)
    assert torch.allclose(approx[..., inside], exact[..., inside])
    assert not torch.allclose(approx[..., ~inside], exact[..., ~inside])


def test_windowed_rope_scores_far_keys_at_the_fixed_distance():
    q, keys, q_pos, k_pos = _wrope_case()
    F = F16.repeat(2, 1, 1)
    approx = windowed_rope_scores(q, keys, q_pos, k_pos, F, window=8, far_distance=30, num_sinks=0)
    exact = rotated_scores(q, keys, q_pos[:, None], k_pos[:, None], F)
    at_r = (k_pos == 70).nonzero().item()  # the key exactly 30 steps back: WRoPE is exact there
    assert torch.allclose(approx[..., at_r], exact[..., at_r])
    # Beyond the window a key's score is the same wherever it sits: it is always "30 steps back".
    far = 100 - k_pos >= 8
    as_if_at_r = rotated_scores(q, keys, torch.tensor([[30]]), torch.zeros(40, 1, dtype=torch.long), F)
    assert torch.allclose(approx[..., far], as_if_at_r[..., far])


def test_elite_ranks_the_slot_carrying_each_heads_energy_first():
    gen = torch.Generator().manual_seed(4)
    n, heads, slots = 24, 3, 8
    q = torch.randn(n, heads, 16, generator=gen) * 0.05
    k = torch.randn(n, heads, 16, generator=gen) * 0.05
    dominant = [5, 1, 6]
    for h, s in enumerate(dominant):  # half layout: pair s = channels (s, s + 8)
        q[:, h, [s, s + slots]] += torch.randn(n, 2, generator=gen) * 3
        k[:, h, [s, s + slots]] += torch.randn(n, 2, generator=gen) * 3
    F = geometric_frequencies(slots, base=100.0)[None, :, None].repeat(heads, 1, 1)
    ranking = rank_elite_slots(q, k, text_positions(n), F)
    assert ranking[:, 0].tolist() == dominant
    assert all(sorted(row.tolist()) == list(range(slots)) for row in ranking)  # a permutation per head


def test_elite_frequencies_endpoints_and_position_free_rest():
    q, k = random_qk(10, 2, 16, seed=5)
    F = geometric_frequencies(8)[None, :, None].repeat(2, 1, 1)
    ranking = rank_elite_slots(q, k, text_positions(10), F, layout="interleaved")
    assert torch.equal(elite_frequencies(F, ranking, 8), F)
    assert torch.equal(elite_frequencies(F, ranking, 0), torch.zeros_like(F))
    kept = elite_frequencies(F, ranking, 3)
    assert ((kept[..., 0] != 0).sum(-1) == 3).all()
    for h in range(2):
        assert set((kept[h, :, 0] != 0).nonzero().flatten().tolist()) == set(ranking[h, :3].tolist())
    with pytest.raises(ConfigError, match="num_elite"):
        elite_frequencies(F, ranking, 9)


def test_hirope_window_is_flat_rope_near_and_hierarchical_far():
    from drive.rope.variants import windowed_hierarchical_scores

    lines = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    level_pos, flat = hierarchical_positions(lines), torch.arange(10)
    F = hierarchical_frequencies([10, 6])
    q, k = random_qk(10, 1, 32, seed=6)
    scores = windowed_hierarchical_scores(q, k, flat, level_pos, F, window=3)
    flat_scores = rotated_scores(q, k, flat[:, None], flat[:, None], geometric_frequencies(16)[None, :, None])
    level_scores = rotated_scores(q, k, level_pos, level_pos, F)
    near = (flat[:, None] - flat[None, :]).abs() < 3
    assert torch.allclose(scores[:, near], flat_scores[:, near])
    assert torch.allclose(scores[:, ~near], level_scores[:, ~near])
    assert torch.allclose(windowed_hierarchical_scores(q, k, flat, level_pos, F, window=100), flat_scores)

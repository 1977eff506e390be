"""MLA decoupled RoPE, AnchorAttention packing and bf16 drift, PaTH, recurrent memory with chunks."""

from __future__ import annotations

import math

import torch

from drive.rope import geometric_frequencies, rope_angles, text_positions
from drive.rope.variants import (
    DecoupledRotaryAttention,
    PathAttention,
    RecurrentMemoryAttention,
    anchor_packing,
    path_attention,
    path_scores_dense,
    path_scores_recurrent,
    relative_score_drift,
)


def _rotation_matrix(angle, layout):
    """Explicit block rotation ``[2S, 2S]`` for ``angle [S]``: pairs (i, i+S) or (2i, 2i+1)."""
    S = angle.numel()
    R = torch.zeros(2 * S, 2 * S, dtype=torch.float64)
    for i, a in enumerate(angle.double().tolist()):
        a1, a2 = (i, i + S) if layout == "half" else (2 * i, 2 * i + 1)
        R[a1, a1], R[a1, a2], R[a2, a1], R[a2, a2] = math.cos(a), -math.sin(a), math.sin(a), math.cos(a)
    return R


def _mla_reference(m, x, angle):
    """Loop-by-loop decoupled-RoPE attention with explicit rotation matrices (fp64)."""
    H, C, R, Dv = m.num_heads, m.content_dim, m.rotary_dim, m.value_dim
    W = {n: p.detach().double() for n, p in m.named_parameters()}
    B, N, _ = x.shape
    out = torch.zeros(B, N, H * Dv, dtype=torch.float64)
    for b in range(B):
        xb = x[b].double()
        q = (xb @ W["q_proj.weight"].T).view(N, H, C + R)
        c = xb @ W["kv_down.weight"].T
        k_c = (c @ W["k_up.weight"].T).view(N, H, C)
        v = (c @ W["v_up.weight"].T).view(N, H, Dv)
        k_r = xb @ W["k_rotary.weight"].T  # (N, R): one per token, all heads
        rot = [_rotation_matrix(angle[b, n, 0], m.layout) for n in range(N)]
        for h in range(H):
            scores = torch.empty(N, N, dtype=torch.float64)
            for i in range(N):
                for j in range(N):
                    content = q[i, h, :C] @ k_c[j, h]
                    rotary = (rot[i] @ q[i, h, C:]) @ (rot[j] @ k_r[j])
                    scores[i, j] = (content + rotary) / math.sqrt(C + R)
            out[b, :, h * Dv : (h + 1) * Dv] = torch.softmax(scores, -1) @ v[:, h]
    return out @ W["out_proj.weight"].T


def test_mla_equals_explicit_reference():
    torch.manual_seed(0)
    for layout in ("half", "interleaved"):
        m = DecoupledRotaryAttention(16, 2, content_dim=6, rotary_dim=4, latent_dim=5, layout=layout).double()
        x = torch.randn(2, 5, 16, dtype=torch.float64)
        angle = rope_angles(text_positions(5) * 3, geometric_frequencies(2)[None, :, None])[None].expand(
            2, -1, -1, -1
        )
        assert torch.allclose(m(x, angle), _mla_reference(m, x, angle), atol=1e-10)


def test_mla_rotary_key_is_shared_and_content_is_position_free():
    torch.manual_seed(1)
    m = DecoupledRotaryAttention(16, 3, content_dim=4, rotary_dim=4, latent_dim=6).double()
    x = torch.randn(1, 6, 16, dtype=torch.float64)
    F = geometric_frequencies(2)[None, :, None]
    angle = rope_angles(text_positions(6), F)[None]  # (1, 6, 1, 2)
    q, k, _ = m.project(x, angle)
    assert torch.equal(k[..., 4:], k[:, :, :1, 4:].expand_as(k[..., 4:]))  # one rotary key for every head
    moved = rope_angles(text_positions(6) * 5 + 2, F)[None]
    q2, k2, _ = m.project(x, moved)
    assert torch.equal(q[..., :4], q2[..., :4]) and torch.equal(k[..., :4], k2[..., :4])
    shifted = rope_angles(text_positions(6) + 100, F)[None]  # a common shift keeps every score
    assert torch.allclose(m(x, angle), m(x, shifted), atol=1e-10)


def test_anchor_packing_positions_and_mask():
    positions, mask = anchor_packing([2, 3])
    assert positions[:, 0].tolist() == [0, 1, 2, 3, 4, 5]
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 0, 0, 1, 0, 0],  # second document: sees the anchor, not the first document
            [1, 0, 0, 1, 1, 0],
            [1, 0, 0, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)


def test_bf16_angles_break_relative_position_and_fp32_keeps_it():
    gen = torch.Generator().manual_seed(7)
    q, k = torch.randn(64, generator=gen), torch.randn(64, generator=gen)
    F = geometric_frequencies(32)[None, :, None]
    starts = torch.tensor([0, 100, 1000, 8000])
    fp32 = relative_score_drift(q, k, F, offset=5, starts=starts, angle_dtype=torch.float32)
    bf16 = relative_score_drift(q, k, F, offset=5, starts=starts, angle_dtype=torch.bfloat16)
    assert fp32.max() < 1e-3
    assert bf16[-1] > 0.5 and bf16[-1] > 100 * fp32.max()  # same offset, different score at large positions
    # The core's angles stay fp32 under autocast, so the default path is the fp32 one.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert rope_angles(text_positions(4), F).dtype == torch.float32


def _path_inputs(seed, beta_scale=2.0):
    gen = torch.Generator().manual_seed(seed)
    q, k, v, w = (torch.randn(2, 7, 5, generator=gen, dtype=torch.float64) for _ in range(4))
    beta = beta_scale * torch.rand(2, 7, generator=gen, dtype=torch.float64)
    return q, k, v, w, beta


def test_path_dense_equals_recurrence():
    q, k, _, w, beta = _path_inputs(0)
    dense = path_scores_dense(q, k, w, beta)
    assert torch.allclose(dense, path_scores_recurrent(q, k, w, beta), atol=1e-12)
    assert torch.allclose(torch.diagonal(dense, dim1=-2, dim2=-1), (q * k).sum(-1))  # j = i: no transition


def test_path_beta_zero_is_attention_without_position():
    q, k, v, w, beta = _path_inputs(1)
    zero = torch.zeros_like(beta)
    scores = q @ k.transpose(-1, -2) / math.sqrt(5)
    causal = torch.ones(7, 7, dtype=torch.bool).tril()
    plain = torch.softmax(scores.masked_fill(~causal, float("-inf")), -1) @ v
    assert torch.allclose(path_attention(q, k, v, w, zero), plain)
    assert torch.allclose(path_attention(q, k, v, w, zero, recurrent=True), plain)
    assert not torch.allclose(path_attention(q, k, v, w, beta), plain)


def test_path_beta_two_is_orthogonal_along_the_path():
    _, k, _, w, _ = _path_inputs(2)
    k, w = k[0], w[0]  # (N, D)
    N, D = k.shape
    basis = torch.eye(D, dtype=torch.float64)[:, None, :].expand(D, N, D)  # q_i = e_d for every i
    for beta_value, preserves in ((2.0, True), (1.0, False)):
        beta = torch.full((D, N), beta_value, dtype=torch.float64)
        transported = path_scores_dense(basis, k.expand(D, N, D), w.expand(D, N, D), beta)  # (D, N, N)
        norms = transported.norm(dim=0)  # |H_i ... H_{j+1} k_j| for j <= i
        lower = torch.ones(N, N, dtype=torch.bool).tril(-1)
        expected = k.norm(dim=-1).expand(N, N)
        assert torch.allclose(norms[lower], expected[lower]) == preserves


def test_path_module_runs_and_is_causal():
    torch.manual_seed(3)
    m = PathAttention(8, 2).double()
    x = torch.randn(1, 6, 8, dtype=torch.float64)
    y = x.clone()
    y[:, 4:] += 1.0
    assert torch.allclose(m(x)[:, :4], m(y)[:, :4])


def _memory_model(chunk_size=4):
    torch.manual_seed(5)
    freqs = torch.stack([geometric_frequencies(4, base) for base in (10.0, 100.0)])[..., None]  # (2, 4, 1)
    return RecurrentMemoryAttention(16, 2, freqs, chunk_size=chunk_size, num_memory=3).double().eval()


def test_recurrent_memory_streaming_equals_one_pass():
    m = _memory_model()
    x = torch.randn(2, 12, 16, dtype=torch.float64)
    full, memory = m(x)
    first, mem1 = m(x[:, :8])
    second, mem2 = m(x[:, 8:], mem1, offset=8)
    assert torch.allclose(full, torch.cat([first, second], dim=1), atol=1e-12)
    assert torch.allclose(memory, mem2, atol=1e-12)


def test_recurrent_memory_never_sees_the_future_across_chunk_boundaries():
    m = _memory_model()
    x = torch.randn(1, 12, 16, dtype=torch.float64)
    for t in (3, 4, 9):  # last token of a chunk, first of the next, inside a later chunk
        y = x.clone()
        y[:, t] += 1.0
        assert torch.allclose(m(x)[0][:, :t], m(y)[0][:, :t], atol=1e-12)
        assert not torch.allclose(m(x)[0][:, t], m(y)[0][:, t])


def test_recurrent_memory_chunk_is_a_hard_boundary_for_local_attention():
    m = _memory_model()
    with torch.no_grad():
        m.path_logits.copy_(torch.tensor([30.0, -30.0]))  # local path only: no memory read
    x = torch.randn(1, 8, 16, dtype=torch.float64)
    y = x.clone()
    y[:, :4] += 1.0  # change the whole first chunk
    assert torch.allclose(m(x)[0][:, 4:], m(y)[0][:, 4:], atol=1e-10)


def test_recurrent_memory_per_head_rope_is_relative():
    m = _memory_model()
    x = torch.randn(1, 8, 16, dtype=torch.float64)
    assert torch.allclose(m(x)[0], m(x, offset=40)[0], atol=1e-10)


def test_mla_content_term_absorbs_the_key_up_projection():
    torch.manual_seed(2)
    m = DecoupledRotaryAttention(16, 2, content_dim=4, rotary_dim=4, latent_dim=6).double()
    x = torch.randn(1, 5, 16, dtype=torch.float64)
    angle = rope_angles(text_positions(5) * 9, geometric_frequencies(2)[None, :, None])[None]
    q, k, _ = m.project(x, angle)
    content = torch.einsum("bihc,bjhc->bhij", q[..., :4], k[..., :4])  # (B, H, N, N)
    latent = m.kv_down(x)  # (B, N, latent)
    W_q = m.q_proj.weight.view(2, 8, 16)[:, :4]  # (H, C, E): content rows of the query projection
    W_uk = m.k_up.weight.view(2, 4, 6)  # (H, C, latent)
    absorbed = torch.einsum("hce,hcl->hel", W_q, W_uk)  # (H, E, latent): one matrix per head, no position
    assert torch.allclose(content, torch.einsum("bie,hel,bjl->bhij", x, absorbed, latent))

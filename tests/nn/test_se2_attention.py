import math

import pytest
import torch

from drive.errors import ConfigError
from drive.nn import SE2Attention
from drive.nn.se2_attention import (
    POSE_KINDS,
    apply_pose,
    distance_features,
    pose_matrices,
    pose_terms,
    transform,
)
from tests.nn.helpers import DTYPE, in_frame_of, move, tokens_and_poses


def make_layer(seed: int = 0) -> SE2Attention:
    torch.manual_seed(seed)
    layer = SE2Attention(32, 2, num_pose_blocks=2, num_rotation_pairs=3).to(DTYPE)
    with torch.no_grad():  # larger locality weights than the initial ones, so the kernel matters
        layer.beta_raw.copy_(torch.tensor([0.5, -2.0], dtype=DTYPE))
    return layer


@pytest.mark.parametrize("angle,shift", [(0.0, (120.0, -75.0)), (2.3, (0.0, 0.0)), (-1.2, (33.0, 8.0))])
def test_output_invariant_to_scene_rotation_and_translation(angle, shift):
    layer = make_layer()
    q, kv, qp, qh, kp, kh = tokens_and_poses()
    out = layer(q, kv, qp, qh, kp, kh)
    out_moved = layer(q, kv, *move(qp, qh, angle, shift), *move(kp, kh, angle, shift))
    torch.testing.assert_close(out_moved, out, atol=1e-10, rtol=1e-10)


def test_each_query_sees_only_relative_poses():
    """Recomputing query i with every pose expressed in i's own frame (i at the identity) changes nothing."""
    layer = make_layer(1)
    q, kv, qp, qh, kp, kh = tokens_and_poses(num_queries=3)
    out = layer(q, kv, qp, qh, kp, kh)
    for b in range(2):
        for i in range(3):
            rel_k = in_frame_of(kp[b], kh[b], qp[b, i], qh[b, i])
            single = layer(
                q[b : b + 1, i : i + 1],
                kv[b : b + 1],
                torch.zeros(1, 1, 2, dtype=DTYPE),
                torch.zeros(1, 1, dtype=DTYPE),
                rel_k[0][None],
                rel_k[1][None],
            )
            torch.testing.assert_close(single[0, 0], out[b, i], atol=1e-10, rtol=1e-10)


def test_scores_equal_relative_representation():
    """q'·k' = qᵀ ρ(g_q⁻¹ g_k) k for one pose block and one rotation pair, vs explicit matrices."""
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(2, 1, 1, 1, 5, generator=g, dtype=DTYPE).unbind(0)  # (B, N, H, 3 + 2)
    pos = torch.tensor([[[3.0, -2.0]], [[-7.0, 5.0]]], dtype=DTYPE)  # query pose, key pose
    head = torch.tensor([[0.4], [-2.5]], dtype=DTYPE)
    geo = (torch.tensor([10.0], dtype=DTYPE), torch.tensor([2.0]))
    q_t = apply_pose(pose_matrices(pos[0:1], head[0:1], *geo, "query"), q)
    k_t = apply_pose(pose_matrices(pos[1:2], head[1:2], *geo, "key"), k)
    rel_pos, rel_head = in_frame_of(pos[1, 0], head[1, 0], pos[0, 0], head[0, 0])

    def rot(a):
        return torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=DTYPE)

    rho = torch.eye(3, dtype=DTYPE)
    rho[:2, :2] = rot(float(rel_head))
    rho[:2, 2] = rel_pos / 10.0
    q, k, q_t, k_t = q.flatten(), k.flatten(), q_t.flatten(), k_t.flatten()
    torch.testing.assert_close((q_t[:3] * k_t[:3]).sum(), q[:3] @ rho @ k[:3])
    torch.testing.assert_close((q_t[3:] * k_t[3:]).sum(), q[3:] @ rot(2 * float(rel_head)) @ k[3:])


def test_query_and_output_blocks_are_inverse_transpose_and_inverse():
    pos = torch.tensor([[[12.0, -4.0], [-3.0, 8.0]]], dtype=DTYPE)
    head = torch.tensor([[1.3, -2.2]], dtype=DTYPE)
    geo = (torch.tensor([10.0, 50.0], dtype=DTYPE), torch.tensor([1.0, 2.0, 3.0]))
    key = pose_matrices(pos, head, *geo, "key")
    query = pose_matrices(pos, head, *geo, "query")
    output = pose_matrices(pos, head, *geo, "output")
    for k, q, o in zip(key, query, output):
        torch.testing.assert_close(q, torch.linalg.inv(k).transpose(-1, -2))
        torch.testing.assert_close(o, torch.linalg.inv(k))
    with pytest.raises(ConfigError, match="kind"):
        pose_matrices(pos, head, *geo, "value")


@pytest.mark.parametrize("kind", POSE_KINDS)
def test_elementwise_transform_equals_matrix_reference(kind):
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 4, 3, 16, generator=g, dtype=DTYPE, requires_grad=True)
    extra = torch.randn(2, 4, 3, 3, generator=g, dtype=DTYPE)
    pos, head = (
        torch.randn(2, 4, 2, generator=g, dtype=DTYPE) * 40,
        torch.randn(2, 4, generator=g, dtype=DTYPE),
    )
    geo = (torch.tensor([10.0, 50.0], dtype=DTYPE), torch.tensor([1.0, 2.0, 3.0]))
    fast = transform(x, pose_terms(pos, head, *geo, DTYPE), kind, extra)
    slow = apply_pose(pose_matrices(pos, head, *geo, kind), x, extra)
    torch.testing.assert_close(fast, slow)
    weights = torch.randn(fast.shape, generator=g, dtype=DTYPE)
    (grad_fast,) = torch.autograd.grad((fast * weights).sum(), x)
    (grad_slow,) = torch.autograd.grad((slow * weights).sum(), x)
    torch.testing.assert_close(grad_fast, grad_slow)


def test_distance_features_give_negative_squared_distance():
    g = torch.Generator().manual_seed(5)
    qp, kp = (
        torch.randn(1, 4, 2, generator=g, dtype=DTYPE) * 30,
        torch.randn(1, 6, 2, generator=g, dtype=DTYPE) * 30,
    )
    beta = torch.tensor([0.7], dtype=DTYPE)
    logits = torch.einsum(
        "bqhc,bkhc->bqk", distance_features(qp, beta, 10.0, True), distance_features(kp, beta, 10.0, False)
    )
    expected = -0.7 * torch.cdist(qp, kp) ** 2 / 100.0
    # Equal up to a per-query constant, which softmax ignores.
    torch.testing.assert_close(logits - logits[..., :1], expected - expected[..., :1])


def test_padding_and_empty_queries():
    layer = make_layer()
    q, kv, qp, qh, kp, kh = tokens_and_poses()
    keep = torch.ones(2, 7, dtype=torch.bool)
    keep[:, -2:] = False
    out = layer(q, kv, qp, qh, kp, kh, key_padding_mask=keep)
    short = layer(q, kv[:, :5], qp, qh, kp[:, :5], kh[:, :5])
    torch.testing.assert_close(out, short)
    none = torch.zeros(2, 5, 7, dtype=torch.bool)
    empty = layer(q, kv, qp, qh, kp, kh, attn_mask=none)
    assert torch.equal(empty, torch.zeros_like(empty))


def test_rejects_head_too_small():
    with pytest.raises(ConfigError, match="head_dim"):
        SE2Attention(16, 2, num_pose_blocks=1, num_rotation_pairs=2)

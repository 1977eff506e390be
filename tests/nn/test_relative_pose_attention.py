import math

import torch

from drive.nn import RelativePoseAttention, relative_pose_descriptor
from tests.nn.helpers import DTYPE, move, tokens_and_poses


def test_descriptor_hand_computed():
    # Query at (1, 1) facing +y; key at (1, 3) facing -x: 2 m straight ahead, turned left by 90°.
    d = relative_pose_descriptor(
        torch.tensor([[[1.0, 1.0]]]),
        torch.tensor([[math.pi / 2]]),
        torch.tensor([[[1.0, 3.0], [1.0, 1.0]]]),
        torch.tensor([[math.pi, math.pi / 2]]),
    )
    torch.testing.assert_close(d[0, 0, 0], torch.tensor([2.0, 0.0, math.pi / 2]), atol=1e-6, rtol=0)
    # Self edge: zero distance and a bearing of exactly 0 whatever the signed zeros.
    assert torch.equal(d[0, 0, 1], torch.zeros(3))


def slow_reference(layer: RelativePoseAttention, q, kv, qp, qh, kp, kh):
    """Edge by edge, head by head."""
    h, dh = layer.num_heads, layer.head_dim
    out = torch.zeros_like(q)
    for b in range(q.shape[0]):
        for i in range(q.shape[1]):
            qi = layer.q_proj(q[b, i]).view(h, dh)
            keys, values = [], []
            for j in range(kv.shape[1]):
                r = relative_pose_descriptor(
                    qp[b, i][None, None], qh[b, i][None, None], kp[b, j][None, None], kh[b, j][None, None]
                )[0, 0, 0]
                ek, ev = layer.edge_kv_proj(layer.edge_embedding(r)).chunk(2)
                k, v = layer.kv_proj(kv[b, j]).chunk(2)
                keys.append((k + ek).view(h, dh))
                values.append((v + ev).view(h, dh))
            keys, values = torch.stack(keys), torch.stack(values)  # (Nk, H, dh)
            w = torch.softmax((keys * qi).sum(-1) / math.sqrt(dh), dim=0)  # (Nk, H)
            out[b, i] = layer.out_proj((w[..., None] * values).sum(0).flatten())
    return out


def test_matches_edge_by_edge_reference():
    torch.manual_seed(0)
    layer = RelativePoseAttention(16, 2, num_bands=4).to(DTYPE)
    args = tokens_and_poses(num_queries=3, num_keys=4, dim=16)
    torch.testing.assert_close(layer(*args), slow_reference(layer, *args))


def test_invariant_to_scene_rotation_and_translation():
    torch.manual_seed(0)
    layer = RelativePoseAttention(32, 4, num_bands=8).to(DTYPE)
    q, kv, qp, qh, kp, kh = tokens_and_poses()
    out = layer(q, kv, qp, qh, kp, kh)
    moved = layer(q, kv, *move(qp, qh, 2.0, (40.0, -9.0)), *move(kp, kh, 2.0, (40.0, -9.0)))
    torch.testing.assert_close(moved, out, atol=1e-9, rtol=1e-9)


def test_masked_keys_ignored_and_empty_queries_zero():
    torch.manual_seed(0)
    layer = RelativePoseAttention(32, 4, num_bands=8).to(DTYPE)
    q, kv, qp, qh, kp, kh = tokens_and_poses()
    keep = torch.ones(2, 7, dtype=torch.bool)
    keep[:, 3] = False
    idx = torch.tensor([0, 1, 2, 4, 5, 6])
    torch.testing.assert_close(
        layer(q, kv, qp, qh, kp, kh, key_padding_mask=keep),
        layer(q, kv[:, idx], qp, qh, kp[:, idx], kh[:, idx]),
    )
    out = layer(q, kv, qp, qh, kp, kh, key_padding_mask=torch.zeros(2, 7, dtype=torch.bool))
    assert torch.equal(out, torch.zeros_like(out))

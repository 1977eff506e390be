"""The interleaved layout's rotor path: same values and gradients as the general rotation, in place,
and nothing but the angles kept for backward."""

from __future__ import annotations

import pytest
import torch

from drive.rope import RotaryAttention, rope_angles, rotate
from drive.rope.rotor import rotate_query_key_, rotor_path_applies, rotors
from tests.rope.test_attention import _slow_reference


def _reference(module: RotaryAttention, query, key_value, q_angle, k_angle):
    """RotaryAttention written out with the general ``rotate`` (its own autograd Function)."""
    return _slow_reference(module, query, key_value, q_angle, k_angle, None, None)


def _grads(module: RotaryAttention, query: torch.Tensor, key_value: torch.Tensor, out: torch.Tensor):
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), dtype=out.dtype)
    tensors = [query, key_value, *module.parameters()]
    return torch.autograd.grad((out * weights).sum(), tensors)


@pytest.mark.parametrize(
    "case", ["self", "cross", "query_only", "key_only", "heads_shared", "batch_broadcast", "full_head"]
)
def test_attention_values_and_gradients_match_the_general_rotation(case: str) -> None:
    torch.manual_seed(0)
    B, Nq, Nk, D, H, S = 2, 5, 7, 24, 3, 3  # head_dim 8: S = 3 of 4 pairs rotated
    module = RotaryAttention(D, H, layout="interleaved").double()
    query = torch.randn(B, Nq, D, dtype=torch.float64, requires_grad=True)
    key_value = torch.randn(B, Nk, D, dtype=torch.float64, requires_grad=True)
    q_angle = torch.randn(B, Nq, H, S, dtype=torch.float64) * 4
    k_angle = torch.randn(B, Nk, H, S, dtype=torch.float64) * 4
    if case == "self":
        key_value, k_angle = query, q_angle
    elif case == "query_only":
        k_angle = None
    elif case == "key_only":
        q_angle = None
    elif case == "heads_shared":
        q_angle, k_angle = q_angle[:, :, :1], k_angle[:, :, :1]  # [B, N, 1, S]: one table for all heads
    elif case == "batch_broadcast":
        q_angle, k_angle = q_angle[:1], k_angle[:1]  # [1, N, H, S] for every scene
    elif case == "full_head":
        q_angle = torch.randn(B, Nq, H, 4, dtype=torch.float64)
        k_angle = torch.randn(B, Nk, H, 4, dtype=torch.float64)
    got = module(query, key_value, q_angle, k_angle)
    want = _reference(module, query, key_value, q_angle, k_angle)
    torch.testing.assert_close(got, want)
    for g, w in zip(_grads(module, query, key_value, got), _grads(module, query, key_value, want)):
        torch.testing.assert_close(g, w)
    with torch.no_grad():  # the in-place inference path gives the same values
        torch.testing.assert_close(module(query, key_value, q_angle, k_angle), want)


def test_rotation_preserves_norms_and_inverts_exactly_in_fp64() -> None:
    torch.manual_seed(1)
    q, k = torch.randn(6, 16, dtype=torch.float64), torch.randn(6, 16, dtype=torch.float64)
    angle = torch.randn(6, 2, 3, dtype=torch.float64) * 10
    q0, k0 = q.clone(), k.clone()
    with torch.no_grad():
        rotate_query_key_(q, k, angle, angle, num_heads=2)
        torch.testing.assert_close(q.norm(dim=-1), q0.norm(dim=-1))
        assert torch.equal(q[:, 6:8], q0[:, 6:8]) and torch.equal(q[:, 14:], q0[:, 14:])  # pairs past S
        rotate_query_key_(q, k, -angle, -angle, num_heads=2)
    torch.testing.assert_close(q, q0)
    torch.testing.assert_close(k, k0)


def test_inference_rotates_in_place() -> None:
    q, k = torch.randn(4, 8), torch.randn(4, 8)
    angle = torch.randn(4, 2, 2)
    with torch.no_grad():
        q_out, k_out = rotate_query_key_(q, k, angle, None, num_heads=2)
    assert q_out.data_ptr() == q.data_ptr() and k_out is k


def test_gradcheck_of_the_autograd_node() -> None:
    torch.manual_seed(2)
    q = torch.randn(3, 16, dtype=torch.float64, requires_grad=True)
    k = torch.randn(4, 16, dtype=torch.float64, requires_grad=True)
    q_angle, k_angle = torch.randn(3, 2, 3, dtype=torch.float64), torch.randn(4, 1, 3, dtype=torch.float64)

    def rotated(q, k):  # fresh non-view tensors, as a projection hands over
        return rotate_query_key_(q * 1.0, k * 1.0, q_angle, k_angle, num_heads=2)

    assert torch.autograd.gradcheck(rotated, (q, k))


def test_backward_keeps_only_the_angles() -> None:
    torch.manual_seed(3)
    q = torch.randn(10, 32, requires_grad=True)
    k = torch.randn(10, 32, requires_grad=True)
    angle = torch.randn(10, 4, 3)
    saved: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        q_rot, k_rot = rotate_query_key_(q * 1.0, k * 1.0, angle, angle, num_heads=4)
    # The multiplications by 1.0 save nothing (constant factor); the rotation saves the one shared angle.
    assert [t.data_ptr() for t in saved] == [angle.data_ptr()]
    (q_rot.sum() + 2 * k_rot.sum()).backward()
    assert q.grad is not None and k.grad is not None


def test_views_under_autograd_are_rotated_into_copies() -> None:
    base = torch.randn(4, 16, requires_grad=True)
    q_view = (base * 1.0).view(2, 2, 16).flatten(0, 1)  # a view, as a wrapped projection may return
    k = base * 2.0
    angle = torch.randn(4, 2, 2)
    before = q_view.detach().clone()
    q_rot, k_rot = rotate_query_key_(q_view, k, angle, angle, num_heads=2)
    assert torch.equal(q_view.detach(), before)  # the view's base is untouched
    torch.testing.assert_close(q_rot, rotate(before.view(4, 2, 8), angle, "interleaved").view(4, 16))
    q_rot.sum().backward()
    assert base.grad is not None


def test_leaves_wanting_gradients_are_rotated_into_copies() -> None:
    q = torch.randn(4, 16, dtype=torch.float64, requires_grad=True)
    k = torch.randn(4, 16, dtype=torch.float64, requires_grad=True)
    angle = torch.randn(4, 2, 3, dtype=torch.float64)
    before = q.detach().clone()
    q_rot, k_rot = rotate_query_key_(q, k, angle, None, num_heads=2)
    assert torch.equal(q.detach(), before) and k_rot is not q_rot
    assert torch.autograd.gradcheck(lambda q, k: rotate_query_key_(q, k, angle, angle, num_heads=2), (q, k))


def test_empty_token_sets() -> None:
    module = RotaryAttention(8, 2, layout="interleaved")
    x = torch.randn(1, 0, 8, requires_grad=True)
    angle = torch.randn(1, 0, 2, 2)
    out = module(x, x, angle, angle)
    assert out.shape == (1, 0, 8)
    out.sum().backward()


def test_angles_needing_gradients_and_other_dtypes_take_the_general_path() -> None:
    x = torch.randn(4, 8)
    assert rotor_path_applies(x, torch.randn(4, 2, 2), head_dim=4)
    assert not rotor_path_applies(x, torch.randn(4, 2, 2, requires_grad=True), head_dim=4)
    assert not rotor_path_applies(x.to(torch.bfloat16), torch.randn(4, 2, 2), head_dim=4)
    assert not rotor_path_applies(x, torch.randn(4, 2, 2, dtype=torch.float64), head_dim=4)
    assert not rotor_path_applies(x, torch.randn(4, 2, 3), head_dim=4)  # more pairs than a head has
    with pytest.raises(ValueError, match="slots"):
        RotaryAttention(8, 2, layout="interleaved")(x[None], x[None], torch.randn(1, 4, 2, 3), None)
    # A learned angle still gets its gradient through the general path.
    module = RotaryAttention(8, 2, layout="interleaved")
    angle = torch.randn(1, 4, 2, 2, requires_grad=True)
    module(x[None], x[None], angle, angle).sum().backward()
    assert angle.grad is not None and angle.grad.abs().sum() > 0


def test_rotors_are_unit_complex_numbers_of_the_angle() -> None:
    angle = torch.linspace(-1000.0, 1000.0, 101)
    rotor = rotors(angle)
    assert rotor.dtype == torch.complex64
    torch.testing.assert_close(rotor.abs(), torch.ones(101))
    torch.testing.assert_close(rotor.real, angle.cos())
    torch.testing.assert_close(rotor.imag, angle.sin())


def test_rope_angles_equal_the_exact_sum_rounded_once() -> None:
    torch.manual_seed(4)
    positions = torch.randn(5, 7, 3) * 1000
    frequencies = torch.rand(4, 6, 3)
    exact = (positions.double()[..., None, None, :] * frequencies.double()).sum(-1)  # (5, 7, 4, 6)
    assert torch.equal(rope_angles(positions, frequencies), exact.float())
    frequencies.requires_grad_(True)  # learned frequencies get gradients through the product
    rope_angles(positions, frequencies).sum().backward()
    torch.testing.assert_close(
        frequencies.grad, positions.reshape(-1, 3).sum(0).expand(4, 6, 3).float(), rtol=1e-5, atol=1e-2
    )

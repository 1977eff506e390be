"""The fused SE(2) pose kernels equal the eager transforms they replace, values and gradients."""

from __future__ import annotations

import pytest
import torch

from drive.nn import SE2Attention
from drive.nn.se2_attention import (
    _KERNEL_MODE,
    _KEY_DISTANCE,
    _NO_DISTANCE,
    _QUERY_DISTANCE,
    distance_features,
    fused_transforms,
    pose_terms,
    transform,
)
from drive.rope import fused

kernels = fused.cpu_kernels()
pytestmark = pytest.mark.skipif(
    kernels is None, reason=f"fused kernels not built here: {fused.unavailable_reason()}"
)
KEY_TRANSPOSED = 3
SCALES = torch.tensor([10.0, 100.0], dtype=torch.float64)
HARMONICS = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
DISTANCE_SCALE = 10.0
SCORE_SCALE = 0.25


def _poses(batch: int, tokens: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    pos = (torch.rand(batch, tokens, 2, generator=g, dtype=torch.float64) * 400 - 200).to(dtype)
    heading = (torch.rand(batch, tokens, generator=g, dtype=torch.float64) * 20 - 10).to(dtype)
    return pos, heading


def _kernel(x, pos, heading, mode, distance=_NO_DISTANCE, beta_raw=None):
    scales, harmonics = SCALES.to(pos.dtype), HARMONICS.to(pos.dtype)
    return kernels.se2_transform(
        x, pos, heading, scales, harmonics, mode, distance, beta_raw, SCORE_SCALE, DISTANCE_SCALE
    )


def _geometry(dtype=torch.float64):
    return SCALES.to(dtype), HARMONICS.to(dtype), SCORE_SCALE, DISTANCE_SCALE


@pytest.mark.parametrize("kind", ["key", "query", "output"])
@pytest.mark.parametrize(
    "dtypes", [(torch.float64, torch.float64), (torch.float32, torch.float32), (torch.float32, torch.float64)]
)
def test_each_mode_equals_the_eager_transform(kind: str, dtypes) -> None:
    x_dtype, pose_dtype = dtypes
    pos, heading = _poses(2, 7, seed=1, dtype=pose_dtype)
    x = torch.randn(2, 7, 3, 16, dtype=x_dtype)  # 2 blocks (6) + 3 pairs (6) + 4 invariant channels
    terms = pose_terms(pos, heading, SCALES.to(pose_dtype), HARMONICS.to(pose_dtype), x_dtype)
    beta_raw = torch.tensor([-3.0, 0.4, 25.0], dtype=x_dtype)  # 25: past softplus's linear threshold
    beta = torch.nn.functional.softplus(beta_raw) / SCORE_SCALE
    if kind == "query":
        extra, distance = distance_features(pos.to(x_dtype), beta, DISTANCE_SCALE, True), _QUERY_DISTANCE
    elif kind == "key":
        extra, distance = distance_features(pos.to(x_dtype), beta, DISTANCE_SCALE, False), _KEY_DISTANCE
    else:
        extra, distance = None, _NO_DISTANCE
    want = transform(x, terms, kind, extra)
    got = _kernel(x, pos, heading, _KERNEL_MODE[kind], distance, beta_raw)
    tolerance = {"rtol": 1e-12, "atol": 1e-12} if x_dtype == torch.float64 else {"rtol": 2e-6, "atol": 2e-5}
    torch.testing.assert_close(got, want, **tolerance)


@pytest.mark.parametrize("mode,transposed", [(0, KEY_TRANSPOSED), (1, 2), (2, 1), (KEY_TRANSPOSED, 0)])
def test_each_mode_and_its_transpose_are_adjoint(mode: int, transposed: int) -> None:
    # <T x, y> = <x, Tᵀ y> for every token and head: the property the backward relies on.
    pos, heading = _poses(1, 5, seed=2)
    x, y = torch.randn(2, 1, 5, 2, 14, dtype=torch.float64).unbind(0)
    left = (_kernel(x, pos, heading, mode) * y).sum(-1)
    right = (x * _kernel(y, pos, heading, transposed)).sum(-1)
    torch.testing.assert_close(left, right, rtol=1e-12, atol=1e-12)


def test_strided_inputs_are_read_through_their_strides() -> None:
    pos, heading = _poses(2, 6, seed=3)
    x = torch.randn(2, 3, 6, 16, dtype=torch.float64).transpose(1, 2)  # (B, N, H, w), as SDPA's output
    assert not x.is_contiguous()
    torch.testing.assert_close(_kernel(x, pos, heading, 2), _kernel(x.contiguous(), pos, heading, 2))


def test_gradcheck_of_the_fused_node() -> None:
    query_pose, key_pose = _poses(1, 4, seed=4), _poses(1, 5, seed=5)
    q = torch.randn(1, 4, 2, 13, dtype=torch.float64, requires_grad=True)
    k = torch.randn(1, 5, 2, 13, dtype=torch.float64, requires_grad=True)
    beta_raw = torch.tensor([0.7, -1.5], dtype=torch.float64, requires_grad=True)
    plan = ((1, _QUERY_DISTANCE, 0), (0, _KEY_DISTANCE, 1), (0, _NO_DISTANCE, 1), (2, _NO_DISTANCE, 0))

    def run(q, k, beta_raw):
        xs = (q, k, k * 1.0, q * 1.0)
        return tuple(fused_transforms(plan, (query_pose, key_pose), _geometry(), beta_raw, xs))

    assert torch.autograd.gradcheck(run, (q, k, beta_raw))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", ["self", "cross", "masked"])
def test_layer_values_and_gradients_do_not_depend_on_the_kernels(monkeypatch, dtype, case: str) -> None:
    torch.manual_seed(6)
    layer = SE2Attention(48, 3, num_pose_blocks=2, num_rotation_pairs=3).to(dtype)
    query = torch.randn(2, 6, 48, dtype=dtype, requires_grad=True)
    query_pos, query_heading = _poses(2, 6, seed=7, dtype=dtype)
    key_value, key_pos, key_heading = query, query_pos, query_heading
    padding = None
    if case in ("cross", "masked"):
        key_value = torch.randn(2, 9, 48, dtype=dtype, requires_grad=True)
        key_pos, key_heading = _poses(2, 9, seed=8, dtype=dtype)
    if case == "masked":
        padding = torch.ones(2, 9, dtype=torch.bool)
        padding[1] = False  # scene 1: no key at all, its queries output zeros

    def run():
        out = layer(query, key_value, query_pos, query_heading, key_pos, key_heading, padding)
        inputs = [query, *([key_value] if key_value is not query else []), *layer.parameters()]
        return out.detach(), torch.autograd.grad(out.square().sum(), inputs)

    fused_out, fused_grads = run()
    monkeypatch.setenv(fused.ENV_SWITCH, "0")
    eager_out, eager_grads = run()
    # fp32: β's gradient sums over tokens with cancellation (the kernel accumulates it in fp64, eager in
    # fp32), so it is compared at the scale of the other gradients; fp64 holds both paths to 1e-10.
    tolerance = {"rtol": 1e-10, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-3, "atol": 2e-4}
    torch.testing.assert_close(fused_out, eager_out, **tolerance)
    for got, want in zip(fused_grads, eager_grads):
        torch.testing.assert_close(got, want, **tolerance)
    with torch.no_grad():  # the inference path calls the kernels without the autograd node
        monkeypatch.delenv(fused.ENV_SWITCH)
        inference = layer(query, key_value, query_pos, query_heading, key_pos, key_heading, padding)
    torch.testing.assert_close(inference, eager_out, **tolerance)

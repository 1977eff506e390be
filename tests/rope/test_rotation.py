"""Properties of the rotation primitive: norms, identity, layouts, dtypes, out= and autograd paths."""

from __future__ import annotations

import math

import pytest
import torch

from drive.rope import apply_rotation, cos_sin, rotate, rotation


def _reference(x: torch.Tensor, angle: torch.Tensor, layout: str) -> torch.Tensor:
    """Slow float64 reference: an explicit 2x2 rotation per pair, looping over slots."""
    x = x.double()
    angle = angle.double().expand(*x.shape[:-1], angle.shape[-1])
    out = x.clone()
    num_slots = angle.shape[-1]
    for s in range(num_slots):
        i, j = (s, s + num_slots) if layout == "half" else (2 * s, 2 * s + 1)
        c, sn = torch.cos(angle[..., s]), torch.sin(angle[..., s])
        out[..., i] = c * x[..., i] - sn * x[..., j]
        out[..., j] = sn * x[..., i] + c * x[..., j]
    return out


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_matches_explicit_pair_rotation(layout: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 4, 16, generator=g)
    angle = torch.randn(5, 4, 8, generator=g) * 10  # broadcast over the leading dim
    torch.testing.assert_close(rotate(x, angle, layout).double(), _reference(x, angle, layout))


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_norm_of_every_pair_is_preserved(layout: str) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 12, dtype=torch.float64, generator=g)
    y = rotate(x, torch.randn(7, 6, generator=g) * 100, layout)
    pairs = (
        (lambda t: torch.stack([t[..., :6], t[..., 6:]], -1))
        if layout == "half"
        else (lambda t: t.unflatten(-1, (6, 2)))
    )
    torch.testing.assert_close(pairs(y).norm(dim=-1), pairs(x).norm(dim=-1))


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_zero_angle_is_identity(layout: str) -> None:
    x = torch.randn(2, 3, 10)
    assert torch.equal(rotate(x, torch.zeros(3, 5), layout), x)


def test_layouts_agree_up_to_a_fixed_channel_permutation() -> None:
    # interleaved channel 2i <-> half channel i, interleaved 2i+1 <-> half i + S
    num_slots = 8
    perm = torch.cat([torch.arange(0, 2 * num_slots, 2), torch.arange(1, 2 * num_slots, 2)])
    x = torch.randn(4, 6, 2 * num_slots)
    angle = torch.randn(4, 6, num_slots) * 5
    half = rotate(x[..., perm], angle, "half")
    interleaved = rotate(x, angle, "interleaved")
    torch.testing.assert_close(half, interleaved[..., perm])


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_partial_rotation_leaves_trailing_channels(layout: str) -> None:
    x = torch.randn(5, 16)
    angle = torch.randn(5, 3)
    y = rotate(x, angle, layout)
    assert torch.equal(y[..., 6:], x[..., 6:])
    torch.testing.assert_close(y[..., :6], rotate(x[..., :6].contiguous(), angle, layout))


@pytest.mark.parametrize("layout", ["half", "interleaved"])
@pytest.mark.parametrize("block_elements", [1 << 20, 1000, 200])
def test_out_inplace_and_autograd_paths_agree(layout: str, block_elements: int, monkeypatch) -> None:
    # small blocks cut the tensor along its middle dims too (1000: 31 rows per block, 200: 6 rows)
    monkeypatch.setattr(rotation, "_BLOCK_ELEMENTS", block_elements)
    x = torch.randn(2, 3, 300, 32)
    angle = torch.randn(300, 16) * 30
    expected = _reference(x, angle, layout).float()
    x_grad = x.clone().requires_grad_(True)
    differentiable = rotate(x_grad, angle, layout)
    out = torch.empty_like(x)
    rotate(x, angle, layout, out=out)
    inplace = x.clone()
    rotate(inplace, angle, layout, out=inplace)
    padded = torch.zeros(2, 3, 300, 33)
    padded[..., 1:] = x  # odd offset and strides: no complex view, the blockwise path runs
    strided_out = rotate(padded[..., 1:], angle, layout)
    for result in (differentiable.detach(), out, inplace, strided_out, rotate(x, angle, layout)):
        torch.testing.assert_close(result, expected, atol=1e-5, rtol=1e-5)


def test_gradient_is_the_inverse_rotation() -> None:
    x = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    angle = torch.randn(4, 4, dtype=torch.float64)
    upstream = torch.randn(4, 8, dtype=torch.float64)
    (rotate(x, angle) * upstream).sum().backward()
    torch.testing.assert_close(x.grad, rotate(upstream, -angle))


def test_angle_gradient_flows_for_learnable_frequencies() -> None:
    angle = torch.full((1, 1), 0.3, dtype=torch.float64, requires_grad=True)
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    rotate(x, angle)[0, 1].backward()  # y2 = sin(angle)
    assert math.isclose(angle.grad.item(), math.cos(0.3), rel_tol=1e-12)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_output_keeps_dtype(dtype: torch.dtype) -> None:
    x = torch.randn(3, 8).to(dtype)
    y = rotate(x, torch.randn(3, 4))
    assert y.dtype == dtype and y.shape == x.shape


def test_bad_inputs_raise_with_shapes() -> None:
    with pytest.raises(ValueError, match="layout"):
        rotate(torch.zeros(2, 4), torch.zeros(2, 2), "complex")
    with pytest.raises(ValueError, match="slots"):
        rotate(torch.zeros(2, 4), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="broadcast"):
        rotate(torch.zeros(2, 4), torch.zeros(5, 2, 2))
    c, s = cos_sin(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="one shape"):
        apply_rotation(torch.zeros(2, 4), c, s[:1])


@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_gradcheck_through_x_cos_and_sin(layout: str) -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 10, dtype=torch.float64, generator=g, requires_grad=True)
    angle = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)  # broadcast, partial

    def through_angle(x, angle):
        return rotate(x, angle, layout)

    def through_cos_sin(x, cos, sin):
        return apply_rotation(x, cos, sin, layout)

    assert torch.autograd.gradcheck(through_angle, (x, angle))
    cos = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)  # independent cos and sin
    sin = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(through_cos_sin, (x, cos, sin))


def test_low_precision_gradients_keep_dtypes() -> None:
    x = torch.randn(4, 8).bfloat16().requires_grad_(True)
    angle = torch.randn(4, 4, requires_grad=True)
    rotate(x, angle).float().sum().backward()
    assert x.grad.dtype == torch.bfloat16 and angle.grad.dtype == torch.float32

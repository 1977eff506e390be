"""The opt-in compiled rotation agrees with the eager rotation, and falls back where it does not apply."""

from __future__ import annotations

import pytest
import torch

from drive.rope import apply_rotation, apply_rotation_compiled, cos_sin, rotate, rotate_compiled


@pytest.mark.slow
def test_compiled_half_rotation_equals_eager() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 50, 16, generator=g)
    cos, sin = cos_sin(torch.randn(50, 8, generator=g) * 100)
    out = torch.empty_like(x)
    with torch.no_grad():
        compiled = apply_rotation_compiled(x, cos, sin, out=out)
        eager = apply_rotation(x, cos, sin)
    assert compiled is out
    torch.testing.assert_close(compiled, eager, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", ["interleaved", "inplace", "autograd", "partial"])
def test_fallbacks_give_the_eager_result(case: str) -> None:
    x = torch.randn(4, 12)
    angle = torch.randn(4, 3 if case == "partial" else 6)
    expected = rotate(x, angle, "interleaved" if case == "interleaved" else "half")
    if case == "interleaved":
        got = rotate_compiled(x, angle, "interleaved")
    elif case == "inplace":
        got = x.clone()
        with torch.no_grad():
            rotate_compiled(got, angle, out=got)
    elif case == "autograd":
        got = rotate_compiled(x.clone().requires_grad_(True), angle)
        assert got.requires_grad
    else:
        got = rotate_compiled(x, angle)
    torch.testing.assert_close(got.detach(), expected)

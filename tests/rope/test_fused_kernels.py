"""The fused CPU kernels agree with the eager RoPE core they replace, and switching them off changes
nothing but speed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from drive.nn import PoseRotaryAttention
from drive.rope import fused
from drive.rope.rotor import _rotate_both_eager_, rotate_query_key_

kernels = fused.cpu_kernels()
needs_kernels = pytest.mark.skipif(
    kernels is None, reason=f"fused kernels not built here: {fused.unavailable_reason()}"
)


@needs_kernels
@pytest.mark.parametrize(
    "dtypes",
    [
        (torch.float32, torch.float32),
        (torch.float64, torch.float32),
        (torch.float32, torch.float64),
        (torch.float64, torch.float64),
    ],
)
def test_angles_equal_the_exact_sum_rounded_once(dtypes) -> None:
    position_dtype, frequency_dtype = dtypes
    torch.manual_seed(0)
    positions = (torch.randn(2, 9, 3) * 3000).to(position_dtype)
    frequencies = torch.rand(4, 5, 3).to(frequency_dtype)
    exact = (positions.double()[..., None, None, :] * frequencies.double()).sum(-1)  # (2, 9, 4, 5)
    got = kernels.rope_angles(positions, frequencies)
    want_dtype = torch.promote_types(position_dtype, frequency_dtype)
    assert got.dtype == want_dtype and got.shape == (2, 9, 4, 5)
    assert torch.equal(got, exact.to(want_dtype))


@needs_kernels
def test_angles_of_non_contiguous_and_empty_positions() -> None:
    frequencies = torch.rand(2, 3, 3)
    positions = torch.randn(3, 7, 3).transpose(0, 1)  # (7, 3, 3), not contiguous
    exact = (positions.double()[..., None, None, :] * frequencies.double()).sum(-1).float()
    assert torch.equal(kernels.rope_angles(positions, frequencies), exact)
    assert kernels.rope_angles(torch.zeros(0, 3), frequencies).shape == (0, 2, 3)


def _eager_and_fused(q, k, query_angle, key_angle, heads, inverse):
    eager_q, eager_k, fused_q, fused_k = q.clone(), k.clone(), q.clone(), k.clone()
    _rotate_both_eager_(eager_q, eager_k, query_angle, key_angle, heads, inverse)
    # The "shared" case passes one tensor for both, which takes the kernel's one-table path.
    kernels.rotate_query_key_(fused_q, fused_k, query_angle, key_angle, heads, inverse)
    return (eager_q, eager_k), (fused_q, fused_k)


@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", ["shared", "separate", "query_only", "key_only", "heads_broadcast"])
@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("rows", [11, 200])  # 200 * 3 * 4 angles: past the kernel's table threshold
def test_rotation_matches_the_eager_rotor_path(dtype, case: str, inverse: bool, rows: int) -> None:
    torch.manual_seed(1)
    heads, head_dim, slots = 3, 10, 4  # 4 of 5 pairs per head rotated
    q = torch.randn(rows, heads * head_dim, dtype=dtype)
    k = torch.randn(rows, heads * head_dim, dtype=dtype)
    query_angle = torch.randn(rows, heads, slots, dtype=dtype) * 500  # large angles: range reduction
    key_angle = {
        "shared": query_angle,
        "separate": torch.randn(rows, heads, slots, dtype=dtype),
        "query_only": None,
        "key_only": torch.randn(rows, heads, slots, dtype=dtype),
        "heads_broadcast": torch.randn(rows, 1, slots, dtype=dtype),
    }[case]
    if case == "key_only":
        query_angle = None
    if case == "heads_broadcast":
        query_angle = query_angle[:, :1].contiguous()
    (eager_q, eager_k), (fused_q, fused_k) = _eager_and_fused(q, k, query_angle, key_angle, heads, inverse)
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(fused_q, eager_q, **tolerance)
    torch.testing.assert_close(fused_k, eager_k, **tolerance)
    if query_angle is None:
        assert torch.equal(fused_q, q)  # no angle: untouched
    free = slice(2 * slots, head_dim)  # pairs past S are never written
    per_head = (rows, heads, head_dim)
    assert torch.equal(fused_q.view(per_head)[..., free], q.view(per_head)[..., free])


@needs_kernels
def test_rotation_then_inverse_restores_the_input() -> None:
    torch.manual_seed(2)
    q, k = torch.randn(6, 16, dtype=torch.float64), torch.randn(5, 16, dtype=torch.float64)
    query_angle = torch.randn(6, 2, 3, dtype=torch.float64) * 9
    key_angle = torch.randn(5, 2, 3, dtype=torch.float64)
    q0, k0 = q.clone(), k.clone()
    kernels.rotate_query_key_(q, k, query_angle, key_angle, 2, False)
    torch.testing.assert_close(q.norm(dim=-1), q0.norm(dim=-1))
    kernels.rotate_query_key_(q, k, query_angle, key_angle, 2, True)
    torch.testing.assert_close(q, q0)
    torch.testing.assert_close(k, k0)


@needs_kernels
def test_bad_shapes_are_refused_with_the_argument_named() -> None:
    q, k = torch.randn(4, 8), torch.randn(4, 8)
    with pytest.raises(RuntimeError, match="q angle has 3 rows for 4"):
        kernels.rotate_query_key_(q, k, torch.randn(3, 2, 2), None, 2, False)
    with pytest.raises(RuntimeError, match="pairs must fit a head"):
        kernels.rotate_query_key_(q, k, None, torch.randn(4, 2, 3), 2, False)
    with pytest.raises(RuntimeError, match="share a dtype"):
        kernels.rotate_query_key_(q, k, torch.randn(4, 2, 2, dtype=torch.float64), None, 2, False)


@needs_kernels
def test_the_rotor_path_marks_its_in_place_writes() -> None:
    q, k = torch.randn(4, 8), torch.randn(4, 8)
    angle = torch.randn(4, 2, 2)
    before = q._version, k._version
    with torch.no_grad():
        rotate_query_key_(q, k, angle, None, num_heads=2)
    assert q._version > before[0] and k._version == before[1]


@needs_kernels
def test_layer_values_and_gradients_do_not_depend_on_the_kernels(monkeypatch) -> None:
    torch.manual_seed(3)
    layer = PoseRotaryAttention(32, 4, xy_slots=2, heading_slots=1, layout="interleaved")
    tokens = torch.randn(2, 9, 32, requires_grad=True)
    pos, heading = torch.randn(2, 9, 2) * 800, torch.randn(2, 9) * 4

    def run():
        out = layer(tokens, tokens, pos, heading, pos, heading)
        grads = torch.autograd.grad(out.square().sum(), [tokens, *layer.parameters()])
        return out.detach(), grads

    fused_out, fused_grads = run()
    monkeypatch.setenv(fused.ENV_SWITCH, "0")
    assert fused.cpu_kernels() is None
    eager_out, eager_grads = run()
    torch.testing.assert_close(fused_out, eager_out, rtol=1e-5, atol=1e-5)
    for got, want in zip(fused_grads, eager_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_switching_the_kernels_off_takes_the_eager_path() -> None:
    code = (
        "import torch\n"
        "from drive.rope import fused, rope_angles\n"
        "assert fused.cpu_kernels() is None, 'kernels used although switched off'\n"
        "assert 'DRIVE_FUSED_KERNELS' in fused.unavailable_reason()\n"
        "print(float(rope_angles(torch.tensor([[2.0]]), torch.ones(1, 1, 1))[0, 0, 0]))\n"
    )
    switched_off = {**os.environ, fused.ENV_SWITCH: "0"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=switched_off)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2.0"

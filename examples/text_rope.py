"""Text: long-context RoPE variants on one frequency tensor.

Run: ``python examples/text_rope.py`` (CPU, a few seconds). Prints RoFormer's long-term decay, how each
context-extension method treats a 16x longer context, the smallest base for several context lengths,
and the bf16 drift that fp32 angles avoid.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from drive.rope import RotaryAttention, geometric_frequencies, rope_angles, text_positions  # noqa: E402
from drive.rope.variants import (  # noqa: E402
    base_lower_bound,
    interpolate_frequencies,
    llama3_frequencies,
    ntk_aware_frequencies,
    proportional_frequencies,
    relative_score_drift,
    roformer_decay_bound,
    yarn_correction_range,
    yarn_frequencies,
)

HEAD_DIM, BASE, TRAINED, SCALE = 128, 10000.0, 4096, 16.0


def unseen_phase_slots(freqs: torch.Tensor, theta: torch.Tensor) -> int:
    """Slots whose angle at the extended length exceeds both one turn and the range seen in training."""
    seen = theta.double() * TRAINED
    reached = freqs.double() * TRAINED * SCALE
    return int(((reached > seen + 1e-9) & (seen < 2 * math.pi)).sum())


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)  # small tensors: extra threads only add overhead
    print("RoFormer long-term decay: relative upper bound (1/(d/2)) sum_j |S_j|, d=128")
    distances = torch.tensor([0, 1, 10, 100, 1000, 10000])
    for m, b in zip(
        distances.tolist(), roformer_decay_bound(distances, HEAD_DIM, BASE).tolist(), strict=True
    ):
        print(f"  distance {m:>6}: {b:6.2f}")

    theta = geometric_frequencies(HEAD_DIM // 2, BASE)
    yarn, factor = yarn_frequencies(HEAD_DIM // 2, BASE, SCALE, TRAINED)
    methods = {
        "RoPE (no change)": theta,
        "PI": interpolate_frequencies(theta, SCALE),
        "NTK-aware": ntk_aware_frequencies(HEAD_DIM // 2, BASE, SCALE),
        "YaRN": yarn,
        "Llama-3": llama3_frequencies(theta, SCALE, TRAINED),
    }
    low, high = yarn_correction_range(HEAD_DIM // 2, BASE, TRAINED)
    print(
        f"\nExtending {TRAINED} -> {int(TRAINED * SCALE)} tokens (s={SCALE:g});"
        f" YaRN ramp slots {low}..{high},"
    )
    print(f"YaRN attention factor 0.1 ln s + 1 = {factor:.6f}")
    print(f"  {'method':<17} {'unseen-phase slots':>18} {'highest freq kept':>18}")
    for name, freqs in methods.items():
        kept = (freqs[0] / theta[0]).item()
        print(f"  {name:<17} {unseen_phase_slots(freqs, theta):>18d} {kept:>18.4f}")

    print("\nSmallest base with sum_i cos(m theta_i) >= 0 for all m <= L (d=128); feasibility is not")
    print("monotone in the base, so the base from which every larger base passes is shown too:")
    for length in (256, 512, 1024):
        bound = base_lower_bound(length, HEAD_DIM, min_base=100.0, max_base=1e4, points_per_decade=300)
        print(f"  L={length:>5}: smallest {bound.smallest:10.1f}   stable from {bound.stable:10.1f}")

    print("\nScore drift at a fixed offset of 5 as the absolute position grows (fp32 is the core default):")
    q, k = torch.randn(HEAD_DIM), torch.randn(HEAD_DIM)
    starts = torch.tensor([0, 1000, 10000, 30000])
    F = theta[None, :, None]
    for dtype in (torch.float32, torch.bfloat16):
        drift = relative_score_drift(q, k, F, 5, starts, angle_dtype=dtype)
        cells = "  ".join(f"{d:.2e}" for d in drift.tolist())
        print(f"  {str(dtype).removeprefix('torch.'):>8} angles: {cells}")

    print("\nOne attention layer with 0.25-RoPE (p-RoPE) frequencies over 32 tokens:")
    attention = RotaryAttention(64, 4).eval()
    F_p = proportional_frequencies(geometric_frequencies(8, BASE)[None, :, None], 0.25)
    tokens = torch.randn(1, 32, 64)
    angle = rope_angles(text_positions(32), F_p)[None].expand(1, 32, 4, 8)
    with torch.no_grad():
        out = attention(tokens, tokens, angle, angle)
        shifted = rope_angles(text_positions(32, offset=500), F_p)[None].expand(1, 32, 4, 8)
        moved = attention(tokens, tokens, shifted, shifted)
    print(
        f"  output {tuple(out.shape)}; max change when every position shifts by 500: "
        f"{(out - moved).abs().max().item():.1e} (relative encoding)"
    )


if __name__ == "__main__":
    main()

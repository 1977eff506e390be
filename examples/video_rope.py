"""Video: M-RoPE, VideoRoPE, VRoPE and HoPE as position generators for one text-video-text sequence.

Run: ``python examples/video_rope.py`` (CPU, about a second after imports). For a sequence of 3 text
tokens, a 2-frame 2x3-patch clip and 2 more text tokens, prints each scheme's position ids, where the
text after the video resumes, which frequencies carry time, and checks that text alone is 1-D RoPE.
Every scheme then drives the same :class:`drive.rope.RotaryAttention` layer.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from drive.rope import RotaryAttention, geometric_frequencies, rope_angles, text_positions  # noqa: E402
from drive.rope.variants import (  # noqa: E402
    TextSpan,
    VideoSpan,
    hope_frequencies,
    hope_positions,
    mrope_frequencies,
    mrope_positions,
    videorope_frequencies,
    videorope_positions,
    vrope_frequencies,
    vrope_positions,
)

SLOTS = 64  # head_dim 128
SEQUENCE = [TextSpan(3), VideoSpan(frames=2, height=2, width=3), TextSpan(2)]
SCHEMES = {
    "M-RoPE": (mrope_positions, mrope_frequencies((16, 24, 24)), ("t", "h", "w")),
    "VideoRoPE (stride 2)": (
        lambda spans: videorope_positions(spans, temporal_stride=2.0),
        videorope_frequencies(SLOTS, 16),
        ("t", "h", "w"),
    ),
    "VRoPE": (vrope_positions, vrope_frequencies(SLOTS), ("map0", "map1", "map2", "map3")),
    "HoPE (scale 0.75)": (
        lambda spans: hope_positions(spans, temporal_scale=0.75),
        hope_frequencies(SLOTS, 16),
        ("t", "h", "w"),
    ),
}


def fmt(values: torch.Tensor) -> str:
    return " ".join(f"{v:g}" for v in values.tolist())


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    plain = geometric_frequencies(SLOTS)[None, :, None]
    attention = RotaryAttention(2 * SLOTS, 1).eval()
    tokens = torch.randn(1, 3 + 12 + 2, 2 * SLOTS)
    print("Sequence: text x3 | video 2 frames x 2x3 patches | text x2\n")
    for name, (positions_fn, F, axes) in SCHEMES.items():
        positions = positions_fn(SEQUENCE)  # (N, A)
        print(name)
        for a, axis in enumerate(axes):
            print(
                f"  {axis:>4}: {fmt(positions[:3, a])} | {fmt(positions[3:15, a])} | {fmt(positions[15:, a])}"
            )
        time_slots = (F[0, :, 0] != 0).nonzero().flatten() if axes[0] == "t" else torch.arange(0)
        if time_slots.numel():  # VRoPE folds time into every index map instead
            longest = 2 * math.pi / F[0, time_slots, 0].min().item()
            shortest = 2 * math.pi / F[0, time_slots, 0].max().item()
            print(
                f"  time on slots {time_slots.min()}..{time_slots.max()}:"
                f" wavelengths {shortest:.3g}..{longest:.3g} steps"
            )
        zero = int((F[0].abs().sum(-1) == 0).sum())
        if zero:
            print(f"  {zero} zero-frequency slots (position-free for every token)")
        text_only = positions_fn([TextSpan(6)])
        reference = rope_angles(
            text_positions(6).float(),
            plain if zero == 0 else F[..., :1].clone().fill_(0) + F.sum(-1, keepdim=True),
        )
        same = torch.equal(rope_angles(text_only, F), reference)
        angle = rope_angles(positions, F)[None]  # (1, N, 1, S)
        with torch.no_grad():
            out = attention(tokens, tokens, angle, angle)
        print(f"  text only equals 1-D RoPE: {same}; attention output {tuple(out.shape)}\n")


if __name__ == "__main__":
    main()

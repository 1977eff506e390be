"""Agents: the same RoPE core on poses, RoPE on x/y in metres plus DRoPE on the heading.

Run: ``python examples/agents_rope.py`` (CPU, a few seconds). Builds one frequency table over the axes
(x m, y m, heading rad), scores every agent pair of a small scene, and checks numerically that the scores
do not change when the scene is translated or when any heading gains a multiple of 2π, while ordinary
RoPE frequencies on the heading break that periodicity. A rotary attention layer over the agents shows
the same translation invariance for its output.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from drive.rope import (  # noqa: E402
    RotaryAttention,
    agent_positions,
    axial_frequencies,
    geometric_frequencies,
    rope_angles,
    rotate,
    unit_frequencies,
    wavelength_frequencies,
)

HEADS, HEAD_DIM, XY_SLOTS, HEADING_SLOTS = 2, 32, 6, 4


def pose_table(heading_freqs: torch.Tensor) -> torch.Tensor:
    """``F [H, S, 3]``: x slots, y slots (wavelengths 2 m .. 400 m), heading slots."""
    xy = wavelength_frequencies(XY_SLOTS, 2.0, 400.0)
    return axial_frequencies([(0, xy), (1, xy), (2, heading_freqs)], 3, HEADS).double()


def scores(q, k, pos, heading, F) -> torch.Tensor:
    """Rotated scores ``[H, A, A]`` for ``q, k [A, H, D]`` at poses ``pos [A, 2]`` m, ``heading [A]`` rad."""
    angle = rope_angles(agent_positions(pos, heading), F)  # (A, H, S)
    return torch.einsum("ihd,jhd->hij", rotate(q, angle), rotate(k, angle))


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    num_agents = 5
    pos = (torch.rand(num_agents, 2, dtype=torch.float64) - 0.5) * 80.0  # m
    heading = (torch.rand(num_agents, dtype=torch.float64) * 2 - 1) * math.pi  # rad
    q = torch.randn(num_agents, HEADS, HEAD_DIM, dtype=torch.float64)
    k = torch.randn(num_agents, HEADS, HEAD_DIM, dtype=torch.float64)
    drope = pose_table(unit_frequencies(HEADING_SLOTS))
    plain = pose_table(geometric_frequencies(HEADING_SLOTS, 10000.0) * 0.7)  # ordinary RoPE on heading
    print(
        f"{num_agents} agents; slots per head: {2 * XY_SLOTS} x/y + {HEADING_SLOTS} heading = {HEAD_DIM // 2}"
    )
    base = scores(q, k, pos, heading, drope)

    shift = torch.tensor([1234.5, -678.9], dtype=torch.float64)
    moved = scores(q, k, pos + shift, heading, drope)
    print(f"translate the scene by {shift.tolist()} m: max |score change| = {(moved - base).abs().max():.1e}")

    # k in -3..3 per agent
    turns = torch.randint(-3, 4, (num_agents,)).double() * 2 * math.pi
    change = (scores(q, k, pos, heading + turns, drope) - base).abs().max()
    print(f"headings + 2πk, DRoPE heading slots:         max |score change| = {change:.1e}")
    ref = scores(q, k, pos, heading, plain)
    broken = scores(q, k, pos, heading + turns, plain)
    print(
        f"headings + 2πk, ordinary RoPE heading slots: max |score change| = {(broken - ref).abs().max():.1e}"
    )

    common = scores(q, k, pos, heading + 0.8, drope)
    print(
        f"all headings + 0.8 rad:                      max |score change| = {(common - base).abs().max():.1e}"
    )
    c, s = math.cos(0.8), math.sin(0.8)
    rotated_pos = pos @ torch.tensor([[c, s], [-s, c]], dtype=torch.float64)
    spun = scores(q, k, rotated_pos, heading + 0.8, drope)
    print(
        f"rotate the whole scene by 0.8 rad: max |score change| = {(spun - base).abs().max():.1e}"
        " (x/y RoPE sees scene-frame offsets: not rotation-invariant)"
    )

    attention = RotaryAttention(HEADS * HEAD_DIM, HEADS).double().eval()
    tokens = torch.randn(1, num_agents, HEADS * HEAD_DIM, dtype=torch.float64)
    angle = rope_angles(agent_positions(pos, heading), drope)[None]  # (1, A, H, S)
    angle_moved = rope_angles(agent_positions(pos + shift, heading + turns), drope)[None]
    with torch.no_grad():
        out = attention(tokens, tokens, angle, angle)
        out_moved = attention(tokens, tokens, angle_moved, angle_moved)
    print(
        f"RotaryAttention over the agents, output {tuple(out.shape)}: max change under translation and"
        f" 2πk headings = {(out - out_moved).abs().max():.1e}"
    )


if __name__ == "__main__":
    main()

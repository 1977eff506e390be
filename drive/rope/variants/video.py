"""Position generators for interleaved text and video: M-RoPE, VideoRoPE, VRoPE and HoPE.

A sequence is a list of spans, :class:`TextSpan` and :class:`VideoSpan` (frames of ``height × width``
patch tokens, frame-major then row-major). Each scheme is a pair of pure functions: positions
``[N, A]`` (fp32) and a frequency table ``F [1, S, A]`` assigning each slot to one axis; angles and
rotation are the core's. Text tokens get the same index on every axis, so on text only every scheme
is 1-D RoPE (HoPE: 1-D RoPE with its zero-frequency slots). Text after a video continues from the
scheme's next index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from drive.errors import ConfigError
from drive.rope.frequencies import axial_frequencies, geometric_frequencies
from drive.rope.variants._checks import non_negative_int, positive_float, positive_int


@dataclass(frozen=True)
class TextSpan:
    length: int

    def __post_init__(self) -> None:
        positive_int("TextSpan.length", self.length)


@dataclass(frozen=True)
class VideoSpan:
    frames: int
    height: int
    width: int

    def __post_init__(self) -> None:
        for name in ("frames", "height", "width"):
            positive_int(f"VideoSpan.{name}", getattr(self, name))


# A video layout maps (span, first index τ) to (positions [T*h*w, A], next text index).
_Layout = Callable[[VideoSpan, float], tuple[Tensor, float]]


def _assemble(spans: Sequence[TextSpan | VideoSpan], num_axes: int, layout: _Layout) -> Tensor:
    if len(spans) == 0:
        raise ConfigError("spans must hold at least one TextSpan or VideoSpan, got an empty sequence")
    parts, index = [], 0.0
    for i, span in enumerate(spans):
        if isinstance(span, TextSpan):
            steps = index + torch.arange(span.length, dtype=torch.float64)  # (n,)
            parts.append(steps[:, None].expand(-1, num_axes))
            index += span.length
        elif isinstance(span, VideoSpan):
            positions, index = layout(span, index)
            parts.append(positions)
        else:
            raise ConfigError(f"spans[{i}] must be a TextSpan or VideoSpan, got {type(span).__name__}")
    return torch.cat(parts, dim=0).to(torch.float32)  # (N, A)


def _grid(span: VideoSpan) -> tuple[Tensor, Tensor, Tensor]:
    """Frame, row and column index ``[T*h*w]`` each (fp64), frame-major then row-major."""
    t, r, c = torch.meshgrid(
        *(torch.arange(n, dtype=torch.float64) for n in (span.frames, span.height, span.width)), indexing="ij"
    )
    return t.reshape(-1), r.reshape(-1), c.reshape(-1)


def mrope_positions(spans: Sequence[TextSpan | VideoSpan]) -> Tensor:
    """M-RoPE (Qwen2-VL) ``[N, 3]`` = ``(t, h, w)``: ``τ + frame``, ``τ + row``, ``τ + col``; text after
    a video starts at ``max(t, h, w) + 1``."""

    def layout(span: VideoSpan, tau: float) -> tuple[Tensor, float]:
        t, r, c = _grid(span)
        pos = torch.stack([tau + t, tau + r, tau + c], dim=-1)  # (n, 3)
        return pos, float(pos.max()) + 1

    return _assemble(spans, 3, layout)


def videorope_positions(spans: Sequence[TextSpan | VideoSpan], temporal_stride: float = 2.0) -> Tensor:
    """VideoRoPE ``[N, 3]``: diagonal layout ``t = τ + δ·frame``, ``h = t + row − ⌊(height−1)/2⌋``,
    ``w = t + col − ⌊(width−1)/2⌋`` (adjustable temporal spacing δ); text after starts at ``max(t) + 1``."""
    delta = positive_float("temporal_stride", temporal_stride)

    def layout(span: VideoSpan, tau: float) -> tuple[Tensor, float]:
        t, r, c = _grid(span)
        time = tau + delta * t
        h = time + r - (span.height - 1) // 2
        w = time + c - (span.width - 1) // 2
        return torch.stack([time, h, w], dim=-1), float(time.max()) + 1

    return _assemble(spans, 3, layout)


def hope_positions(spans: Sequence[TextSpan | VideoSpan], temporal_scale: float = 1.0) -> Tensor:
    """HoPE ``[N, 3]``: VideoRoPE's diagonal layout with temporal scale γ as the stride (dynamic temporal
    scaling: trained with γ drawn from {0.5, 0.75, 1, 1.25, 1.5}, fixed by the user at inference)."""
    return videorope_positions(spans, temporal_stride=temporal_scale)


def vrope_positions(spans: Sequence[TextSpan | VideoSpan]) -> Tensor:
    """VRoPE ``[N, 4]``: four index maps per patch, ``r + c``, ``r + (W−1−c)``, ``(H−1−r) + c``,
    ``(H−1−r) + (W−1−c)``; frame ``f`` adds ``f·(H + W − 1)``; text after continues at
    ``τ + T·(H + W − 1)``. The four maps sum to the same value for every patch of a frame."""

    def layout(span: VideoSpan, tau: float) -> tuple[Tensor, float]:
        t, r, c = _grid(span)
        rr, cc = span.height - 1 - r, span.width - 1 - c
        stride = span.height + span.width - 1
        base = tau + t * stride
        maps = torch.stack([r + c, r + cc, rr + c, rr + cc], dim=-1)  # (n, 4)
        return base[:, None] + maps, tau + span.frames * stride

    return _assemble(spans, 4, layout)


def _per_slot(axes: Sequence[int | None], base: float, num_axes: int) -> Tensor:
    theta = geometric_frequencies(len(axes), base)  # (S,)
    return axial_frequencies([(a, theta[i : i + 1]) for i, a in enumerate(axes)], num_axes=num_axes)


def mrope_frequencies(sections: Sequence[int] = (16, 24, 24), base: float = 10000.0) -> Tensor:
    """M-RoPE ``F [1, S, 3]``: the first ``sections[0]`` slots (highest frequencies) turn with t, the next
    ``sections[1]`` with h, the last ``sections[2]`` with w."""
    if len(sections) != 3:
        raise ConfigError(f"sections must be three slot counts (t, h, w), got {sections!r}")
    counts = [positive_int(f"sections[{i}]", n) for i, n in enumerate(sections)]
    return _per_slot([a for a, n in enumerate(counts) for _ in range(n)], base, 3)


def _lta_axes(num_slots: int, tail_slots: int, tail_axis: int | None) -> list[int | None]:
    positive_int("num_slots", num_slots)
    non_negative_int("temporal_slots", tail_slots)
    if tail_slots > num_slots:
        raise ConfigError(f"temporal/zero slots must be <= num_slots={num_slots}, got {tail_slots}")
    head = num_slots - tail_slots
    return [1 + (i % 2) for i in range(head)] + [tail_axis] * tail_slots


def videorope_frequencies(num_slots: int = 64, temporal_slots: int = 16, base: float = 10000.0) -> Tensor:
    """VideoRoPE low-frequency temporal allocation ``F [1, S, 3]``: h and w alternate (even slot h, odd
    w) over the high frequencies; t takes the last ``temporal_slots`` (lowest) frequencies."""
    return _per_slot(_lta_axes(num_slots, temporal_slots, 0), base, 3)


def hope_frequencies(num_slots: int = 64, zero_slots: int = 16, base: float = 10000.0) -> Tensor:
    """HoPE hybrid frequency allocation ``F [1, S, 3]``: as VideoRoPE's, but the lowest ``zero_slots``
    get zero frequency (position-free for every token, text included); t is carried by no slot."""
    return _per_slot(_lta_axes(num_slots, zero_slots, None), base, 3)


def vrope_frequencies(num_slots: int = 64, base: float = 10000.0) -> Tensor:
    """VRoPE ``F [1, S, 4]``: slot ``i`` turns with index map ``i mod 4``."""
    return _per_slot([i % 4 for i in range(positive_int("num_slots", num_slots))], base, 4)

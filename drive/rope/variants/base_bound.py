"""The smallest RoPE base for a context length ("Base of RoPE Bounds Context Length", Men et al., 2024).

Long-term decay of token discrimination requires ``B(m) = Σ_i cos(m·θ_i) >= 0`` for every distance
``m = 0..L`` (``θ_i = b^(-2i/d)``). Feasibility is *not* monotone in ``b``: for some L a base passes
while a somewhat larger one fails again. :func:`base_lower_bound` therefore reports both the smallest
feasible base on its grid and the base from which every grid point up to ``max_base`` is feasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from drive.errors import ConfigError
from drive.rope.variants._checks import base_value, positive_int

_BASE_CHUNK = 32  # candidate bases evaluated together: keeps [bases, L, S] under ~50 MB in fp64 for L=4k


def discrimination_curve(distances: Tensor, head_dim: int, base: float) -> Tensor:
    """``B(m) = Σ_{i<d/2} cos(m·b^(-2i/d))`` (fp64) for ``distances [M]``; ``B(0) = d/2``."""
    slots = positive_int("head_dim", head_dim) // 2
    theta = base_value(base) ** -(torch.arange(slots, dtype=torch.float64) / slots)  # (S,)
    return torch.cos(distances.to(torch.float64)[:, None] * theta).sum(-1)  # (M,)


def _min_curve(context_length: int, slots: int, bases: Tensor) -> Tensor:
    """``min_{m<=L} B(m)`` for each candidate base ``[K]``."""
    m = torch.arange(context_length + 1, dtype=torch.float64)  # (L+1,)
    exponent = torch.arange(slots, dtype=torch.float64) / slots  # (S,)
    out = []
    for chunk in bases.split(_BASE_CHUNK):
        theta = chunk[:, None] ** -exponent  # (K, S)
        curve = torch.cos(m[None, :, None] * theta[:, None, :]).sum(-1)  # (K, L+1)
        out.append(curve.min(dim=-1).values)
    return torch.cat(out)


def roformer_decay_bound(distances: Tensor, head_dim: int, base: float = 10000.0) -> Tensor:
    """RoFormer's relative upper bound on ``|score|`` (§3.4.3): ``(1/(d/2))·Σ_{j=1..d/2} |S_j|`` with
    ``S_j = Σ_{k<j} e^{i·m·θ_k}``, for ``distances m [M]`` (fp64 ``[M]``). Equals ``(d/2 + 1)/2`` at
    ``m = 0`` and decays, not monotonically, as ``|m|`` grows."""
    slots = positive_int("head_dim", head_dim) // 2
    theta = base_value(base) ** -(torch.arange(slots, dtype=torch.float64) / slots)  # (S,)
    phase = distances.to(torch.float64)[:, None] * theta  # (M, S)
    partial = torch.cumsum(torch.polar(torch.ones_like(phase), phase), dim=-1)  # (M, S): S_1..S_{d/2}
    return partial.abs().mean(-1)


@dataclass(frozen=True)
class BaseBound:
    """``smallest``: the smallest feasible base found; ``stable``: the smallest base from which every
    checked base up to ``max_base`` is feasible (equal to ``smallest`` when feasibility never toggles)."""

    smallest: float
    stable: float


def base_lower_bound(
    context_length: int,
    head_dim: int,
    *,
    min_base: float = 2.0,
    max_base: float = 1e9,
    points_per_decade: int = 500,
    refine_steps: int = 40,
) -> BaseBound:
    """Smallest base ``b`` with ``B(m) >= 0`` for all ``m <= context_length``.

    A log-spaced grid of bases in ``[min_base, max_base]`` is checked, then each reported boundary is
    refined by bisection between its grid neighbours (assuming one crossing inside one grid cell).
    Feasible windows narrower than the grid spacing can be missed: for ``d = 128, L = 1024`` the
    windows are about ``[4292, 4330]``, ``[5602, 5643]`` and ``[6016, ∞)``, so ``points_per_decade``
    must exceed ~260 to see the first. Cost grows as ``points · L · d``.
    Raises :class:`ConfigError` when no grid base is feasible.
    """
    length = positive_int("context_length", context_length)
    slots = positive_int("head_dim", head_dim) // 2
    if slots < 1:
        raise ConfigError(f"head_dim must be >= 2, got {head_dim!r}")
    lo_base, hi_base = base_value(min_base), base_value(max_base)
    if hi_base <= lo_base:
        raise ConfigError(f"max_base must be > min_base={min_base!r}, got {max_base!r}")
    num = max(
        2,
        int(math.ceil(math.log10(hi_base / lo_base) * positive_int("points_per_decade", points_per_decade))),
    )
    grid = torch.logspace(math.log10(lo_base), math.log10(hi_base), num, dtype=torch.float64)  # (K,)
    feasible = _min_curve(length, slots, grid) >= 0  # (K,)
    if not bool(feasible.any()):
        raise ConfigError(
            f"no base in [{min_base}, {max_base}] satisfies the condition for context_length={length}; "
            "raise max_base"
        )
    first = int(feasible.nonzero()[0])
    infeasible = (~feasible).nonzero()
    stable_idx = 0 if infeasible.numel() == 0 else int(infeasible[-1]) + 1
    if stable_idx >= num:
        raise ConfigError(f"the largest checked base {max_base} is infeasible for {length}; raise max_base")

    def refine(index: int) -> float:
        if index == 0:
            return float(grid[0])
        bad, good = float(grid[index - 1]), float(grid[index])
        for _ in range(refine_steps):
            mid = math.sqrt(bad * good)
            ok = bool(_min_curve(length, slots, torch.tensor([mid], dtype=torch.float64))[0] >= 0)
            bad, good = (bad, mid) if ok else (mid, good)
        return good

    return BaseBound(smallest=refine(first), stable=refine(stable_idx))

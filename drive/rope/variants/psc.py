"""Phase Shift Calibration (PSC, Zhu et al., 2025): a per-head module on queries and keys *before*
rotation, ``x' = x ⊙ (1 + ½·tanh(SiLU(x·U_h)·D_h))``.

Scaling the two members of a channel pair differently turns the pair, so the module can shift each
slot's phase towards what an extended-context frequency schedule expects. ``U`` starts at zero, which
makes the module the identity at initialisation; the coefficient stays in ``(0.5, 1.5)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drive.rope.variants._checks import positive_int


class PhaseShiftCalibration(nn.Module):
    """``x [..., H, Dh]`` -> calibrated ``x [..., H, Dh]``; apply to q and k, then rotate as usual."""

    def __init__(self, num_heads: int, head_dim: int) -> None:
        super().__init__()
        self.num_heads = positive_int("num_heads", num_heads)
        self.head_dim = positive_int("head_dim", head_dim)
        self.up = nn.Parameter(torch.zeros(num_heads, head_dim, head_dim))  # U = 0: identity at init
        self.down = nn.Parameter(torch.empty(num_heads, head_dim, head_dim))
        for weight in self.down:  # per-head Linear default init, as the reference code
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))

    def coefficient(self, x: Tensor) -> Tensor:
        """The per-channel factor ``[..., H, Dh]`` in ``(0.5, 1.5)``."""
        hidden = F.silu(torch.einsum("...hd,hde->...he", x, self.up))  # (..., H, Dh)
        return 1.0 + 0.5 * torch.tanh(torch.einsum("...hd,hde->...he", hidden, self.down))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.num_heads, self.head_dim):
            raise ValueError(
                f"x must be [..., {self.num_heads}, {self.head_dim}] (heads, head_dim), got {tuple(x.shape)}"
            )
        return x * self.coefficient(x)

"""Pre-norm transformer block around any attention module."""

from __future__ import annotations

import torch
from torch import nn


class AttentionBlock(nn.Module):
    """``x + attn(LN(x), LN(context)) `` then ``+ FFN(LN(x))``; ``x [B, N, D] -> [B, N, D]``.

    ``ffn_mult=0`` leaves the feed-forward out (an attention-only block, for stacks that share one
    feed-forward among several attention steps).

    ``forward(x, context=None, *args, **kwargs)``: self-attention when ``context`` is None (build with
    ``cross=False``), cross-attention otherwise; the extra arguments (poses, angles, masks) go to the
    attention module unchanged.
    """

    def __init__(
        self, attention: nn.Module, dim: int, dropout: float = 0.0, *, cross: bool, ffn_mult: int = 4
    ) -> None:
        super().__init__()
        self.attention = attention
        self.norm_query = nn.LayerNorm(dim)
        # Self-attention blocks get no context norm, so no parameter is left without a gradient.
        self.norm_context = nn.LayerNorm(dim) if cross else None
        if ffn_mult < 0:
            raise ValueError(f"ffn_mult must be >= 0, got {ffn_mult}")
        self.ffn = (
            nn.Sequential(
                nn.LayerNorm(dim),
                nn.Linear(dim, ffn_mult * dim),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(ffn_mult * dim, dim),
            )
            if ffn_mult
            else None
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, *args, **kwargs) -> torch.Tensor:
        query = self.norm_query(x)
        if (context is None) != (self.norm_context is None):
            raise ValueError("pass a context exactly when the block was built with cross=True")
        key_value = query if context is None else self.norm_context(context)
        x = x + self.dropout(self.attention(query, key_value, *args, **kwargs))
        if self.ffn is None:
            return x
        return x + self.dropout(self.ffn(x))

"""Multi-head latent attention with decoupled RoPE (DeepSeek-V2/V3).

Keys and values come from a small shared latent ``c = W_dkv x``; per head, a *content* key ``W_uk c``
is never rotated, so ``W_uk`` can be absorbed into the query projection at inference. Position enters
through a separate rotary part: per-head rotary queries and **one rotary key shared by all heads**:
``q_h = [q^C_h ; R(m) q^R_h]``, ``k_h = [k^C_h ; R(n) k^R]``. Scores are the content term (position-free)
plus a rotary term that depends only on ``n - m``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drive.errors import ConfigError
from drive.rope.rotation import LAYOUTS, rotate
from drive.rope.variants._checks import positive_int


class DecoupledRotaryAttention(nn.Module):
    """Self-attention ``x [B, N, E]`` -> ``[B, N, E]`` with angles ``[B, N, 1, S]`` (``S = rotary_dim/2``,
    one head of frequencies: the rotary key is shared) and optional ``attn_mask [B, N, N]`` (True = may
    attend). Softmax scale ``1/sqrt(content_dim + rotary_dim)``."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        content_dim: int,
        rotary_dim: int,
        latent_dim: int,
        value_dim: int | None = None,
        layout: str = "half",
    ) -> None:
        super().__init__()
        for name, value in (
            ("embed_dim", embed_dim),
            ("num_heads", num_heads),
            ("content_dim", content_dim),
            ("rotary_dim", rotary_dim),
            ("latent_dim", latent_dim),
        ):
            positive_int(name, value)
        if rotary_dim % 2:
            raise ConfigError(f"rotary_dim must be even (channel pairs), got {rotary_dim}")
        if layout not in LAYOUTS:
            raise ConfigError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        value_dim = content_dim if value_dim is None else positive_int("value_dim", value_dim)
        self.num_heads, self.content_dim, self.rotary_dim, self.value_dim = (
            num_heads,
            content_dim,
            rotary_dim,
            value_dim,
        )
        self.layout = layout
        self.q_proj = nn.Linear(embed_dim, num_heads * (content_dim + rotary_dim), bias=False)
        self.kv_down = nn.Linear(embed_dim, latent_dim, bias=False)
        self.k_up = nn.Linear(latent_dim, num_heads * content_dim, bias=False)
        self.v_up = nn.Linear(latent_dim, num_heads * value_dim, bias=False)
        self.k_rotary = nn.Linear(embed_dim, rotary_dim, bias=False)  # one rotary key for all heads
        self.out_proj = nn.Linear(num_heads * value_dim, embed_dim, bias=False)

    def project(self, x: Tensor, angle: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Rotated ``q, k [B, N, H, content_dim + rotary_dim]`` and ``v [B, N, H, value_dim]``."""
        B, N, _ = x.shape
        H, C = self.num_heads, self.content_dim
        q = self.q_proj(x).view(B, N, H, C + self.rotary_dim)  # (B, N, H, C + R)
        q_rot = rotate(q[..., C:], angle, self.layout)  # (B, N, H, R)
        latent = self.kv_down(x)  # (B, N, latent)
        k_content = self.k_up(latent).view(B, N, H, C)  # (B, N, H, C)
        k_rot = rotate(self.k_rotary(x)[:, :, None], angle, self.layout)  # (B, N, 1, R): shared
        q = torch.cat([q[..., :C], q_rot], dim=-1)  # (B, N, H, C + R)
        k = torch.cat([k_content, k_rot.expand(B, N, H, self.rotary_dim)], dim=-1)  # (B, N, H, C + R)
        v = self.v_up(latent).view(B, N, H, self.value_dim)  # (B, N, H, Dv)
        return q, k, v

    def forward(self, x: Tensor, angle: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        B, N, _ = x.shape
        q, k, v = (t.transpose(1, 2) for t in self.project(x, angle))  # (B, H, N, .)
        mask = None if attn_mask is None else attn_mask[:, None]  # (B, 1, N, N)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, N, Dv)
        return self.out_proj(out.transpose(1, 2).reshape(B, N, -1))  # (B, N, E)

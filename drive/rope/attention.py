"""``RotaryAttention``: multi-head attention with rotary queries and keys on fused SDPA kernels."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drive.rope.rotation import LAYOUTS, apply_rotation, cos_sin
from drive.rope.rotor import rotate_query_key_, rotor_path_applies


class RotaryAttention(nn.Module):
    """Self- or cross-attention whose queries and keys are rotated by separate angles before
    :func:`torch.nn.functional.scaled_dot_product_attention`, so relative positions enter the scores
    while the fused kernels (and their O(N) memory) stay usable.

    Angles are ``[B, N, H, S]`` with S ≤ head_dim/2: the first 2S channels of each head are rotated
    (``layout`` within those), the rest are position-free. ``None`` angles mean no rotation.

    ``q_proj`` and ``k_proj`` run on the tokens flattened to ``[B*N, D]`` (their outputs are then fresh
    tensors that the interleaved layout rotates in place); hooks on them see that shape.
    """

    def __init__(
        self, embed_dim: int, num_heads: int, *, dropout: float = 0.0, bias: bool = True, layout: str = "half"
    ) -> None:
        super().__init__()
        if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
            raise ValueError(f"num_heads must be a positive int, got {num_heads!r}")
        if isinstance(embed_dim, bool) or not isinstance(embed_dim, int) or embed_dim % num_heads:
            raise ValueError(
                f"embed_dim must be an int divisible by num_heads={num_heads}, got {embed_dim!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.layout = dropout, layout
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(
        self,
        query: Tensor,
        key_value: Tensor,
        query_angle: Tensor | None,
        key_angle: Tensor | None,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        return_weights: bool = False,
        logit_scale: float = 1.0,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``query [B, Nq, D]``, ``key_value [B, Nk, D]``, angles ``[B, N, H, S]`` or None,
        ``key_padding_mask [B, Nk]`` (True = valid key), ``attn_mask [B, Nq, Nk]`` (True = may attend).

        Returns ``[B, Nq, D]``, or ``(out, weights [B, H, Nq, Nk])`` when ``return_weights`` (explicit,
        slower path; weights are the softmax probabilities before dropout). Query rows with no key to
        attend to output exactly zero. ``logit_scale`` multiplies the logits ``q·k/sqrt(Dh)`` (an attention
        temperature, e.g. YaRN's ``attention_factor**2``); 1 leaves them unchanged.
        """
        B, Nq, _ = query.shape
        Nk = key_value.shape[1]
        H, Dh = self.num_heads, self.head_dim
        # Projected from 2-D inputs, q and k are fresh tensors (not views), which the rotation may overwrite.
        q = self.q_proj(query.reshape(B * Nq, query.shape[-1]))  # (B*Nq, H*Dh)
        k = self.k_proj(key_value.reshape(B * Nk, key_value.shape[-1]))  # (B*Nk, H*Dh)
        q, k = self._rotate(q, k, query_angle, key_angle, (B, Nq, Nk))
        # v only now: the rotation's transient tables are gone before another N x D tensor exists.
        v = self.v_proj(key_value).view(B, Nk, H, Dh)  # (B, Nk, H, Dh)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, N, Dh)
        mask = _combine_masks(key_padding_mask, attn_mask, B, Nq, Nk)  # (B, 1, Nq | 1, Nk) | None
        row_valid = None
        if mask is not None:
            row_valid = mask.any(dim=-1, keepdim=True)  # (B, 1, Nq | 1, 1)
            # A row with no valid key would softmax over nothing (NaN); let it see every key, zero it below.
            mask = mask | ~row_valid
        dropout_p = self.dropout if self.training else 0.0
        if return_weights:
            out, weights = _explicit_attention(q, k, v, mask, dropout_p, logit_scale)
        else:
            scale = None if logit_scale == 1.0 else logit_scale / math.sqrt(Dh)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)
        del q, k, v  # without autograd nothing else holds them: freed before the output projection
        out = self.out_proj(out.transpose(1, 2).reshape(B, Nq, H * Dh))  # (B, Nq, D)
        if row_valid is not None:
            out = out * row_valid[:, 0].to(out.dtype)  # (B, Nq, D): rows with no key are exactly zero
        if return_weights:
            if row_valid is not None:
                weights = weights * row_valid.to(weights.dtype)  # (B, H, Nq, Nk)
            return out, weights
        return out

    def _rotate(
        self,
        q: Tensor,
        k: Tensor,
        query_angle: Tensor | None,
        key_angle: Tensor | None,
        sizes: tuple[int, int, int],
    ) -> tuple[Tensor, Tensor]:
        """``q [B*Nq, H*Dh]``, ``k [B*Nk, H*Dh]``, fresh from their projections, rotated by their angles;
        returns ``q [B, Nq, H, Dh]``, ``k [B, Nk, H, Dh]``. ``sizes`` = (B, Nq, Nk)."""
        B, Nq, Nk = sizes
        H, Dh = self.num_heads, self.head_dim
        if (
            self.layout == "interleaved"
            and rotor_path_applies(q, query_angle, Dh)
            and rotor_path_applies(k, key_angle, Dh)
        ):
            query_rows = _rows(query_angle, B, Nq)  # (B*Nq, H | 1, S) | None
            # The same tensor for both keeps self-attention at one rotor table, computed once.
            key_rows = query_rows if key_angle is query_angle else _rows(key_angle, B, Nk)
            q, k = rotate_query_key_(q, k, query_rows, key_rows, H)
            return q.view(B, Nq, H, Dh), k.view(B, Nk, H, Dh)
        q, k = q.view(B, Nq, H, Dh), k.view(B, Nk, H, Dh)
        in_place = not torch.is_grad_enabled()
        query_turn = None if query_angle is None else cos_sin(query_angle)  # (cos, sin) [B, Nq, H, S]
        if query_turn is not None:
            q = apply_rotation(q, *query_turn, self.layout, out=q if in_place else None)
        if key_angle is not None:
            # Self-attention passes one angle tensor for both: one cos/sin, and one saved for backward.
            key_turn = query_turn if key_angle is query_angle else cos_sin(key_angle)
            k = apply_rotation(k, *key_turn, self.layout, out=k if in_place else None)
        return q, k


def _rows(angle: Tensor | None, batch: int, length: int) -> Tensor | None:
    """``angle [B | 1, N, H | 1, S]`` -> ``[B*N, H | 1, S]``, one row per token of the flat projections."""
    if angle is None:
        return None
    if angle.shape[0] != batch or angle.shape[1] != length:
        angle = angle.expand(batch, length, *angle.shape[-2:])
    return angle.flatten(0, 1)


def _combine_masks(
    key_padding_mask: Tensor | None, attn_mask: Tensor | None, B: int, Nq: int, Nk: int
) -> Tensor | None:
    """One boolean mask broadcastable to ``[B, H, Nq, Nk]`` (True = may attend), or None. With only a key
    padding mask it stays ``[B, 1, 1, Nk]``, so no ``Nq x Nk`` tensor is built."""
    mask = None
    if key_padding_mask is not None:
        if key_padding_mask.dtype != torch.bool or key_padding_mask.shape != (B, Nk):
            raise ValueError(
                f"key_padding_mask must be bool [B, Nk] = [{B}, {Nk}], got {key_padding_mask.dtype} "
                f"{tuple(key_padding_mask.shape)}"
            )
        mask = key_padding_mask[:, None, None, :]  # (B, 1, 1, Nk)
    if attn_mask is not None:
        if attn_mask.dtype != torch.bool or attn_mask.shape != (B, Nq, Nk):
            raise ValueError(
                f"attn_mask must be bool [B, Nq, Nk] = [{B}, {Nq}, {Nk}], got {attn_mask.dtype} "
                f"{tuple(attn_mask.shape)}"
            )
        mask = attn_mask[:, None] if mask is None else mask & attn_mask[:, None]  # (B, 1, Nq, Nk)
    return mask


def _explicit_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float, logit_scale: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Scores, softmax and weighted sum written out; returns ``(out [B, H, Nq, Dh], weights)``."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, Nq, Nk)
    if logit_scale != 1.0:
        scores = scores * logit_scale
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, H, Nq, Nk)
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights  # (B, H, Nq, Dh)

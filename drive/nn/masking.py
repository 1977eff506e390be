"""Attention masks shared by the attention layers (bool, True = may attend)."""

from __future__ import annotations

import torch


def attention_mask(
    key_padding_mask: torch.Tensor | None, attn_mask: torch.Tensor | None, num_queries: int
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Merge a key padding mask ``[B, Nk]`` and a pair mask ``[B, Nq, Nk]`` into ``[B, 1, Nq, Nk]``.

    Returns ``(mask, has_key)``: ``has_key [B, Nq]`` is False for queries with no key to attend to.
    Their mask row is opened fully so softmax stays finite; callers zero those outputs.
    Both are None when neither mask is given.
    """
    if key_padding_mask is None and attn_mask is None:
        return None, None
    if attn_mask is None:
        mask = key_padding_mask[:, None, :].expand(-1, num_queries, -1)  # (B, Nq, Nk)
    elif key_padding_mask is None:
        mask = attn_mask
    else:
        mask = attn_mask & key_padding_mask[:, None, :]  # (B, Nq, Nk)
    has_key = mask.any(dim=-1)  # (B, Nq)
    mask = mask | ~has_key[..., None]
    return mask[:, None], has_key


def radius_mask(query_pos: torch.Tensor, key_pos: torch.Tensor, radius_m: float) -> torch.Tensor:
    """``[B, Nq, 2]``, ``[B, Nk, 2]`` metres -> ``[B, Nq, Nk]`` bool, True where within ``radius_m``."""
    return torch.cdist(query_pos.float(), key_pos.float()) <= radius_m

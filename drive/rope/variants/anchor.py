"""AnchorAttention ("When Precision Meets Position: BFloat16 Breaks Down RoPE", Wang et al., 2025).

Packed training contexts hold several documents. AnchorAttention prepends one shared anchor token
(position 0) that every document can see, lets each document attend only within itself, and keeps
continuous position ids over the packed sequence. The paper's motivation is numerical: with bf16
angles RoPE's scores drift with the absolute position even at a fixed offset, and the first token
suffers most. The core always computes angles, cos and sin in fp32 (:func:`relative_score_drift`
measures the drift for any angle dtype).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from drive.errors import ConfigError
from drive.rope.angles import rope_angles
from drive.rope.rotation import apply_rotation, rotate
from drive.rope.variants._checks import positive_int


def anchor_packing(document_lengths: Sequence[int]) -> tuple[Tensor, Tensor]:
    """``(positions [N, 1] int64, attn_mask [N, N] bool)`` for one anchor followed by the documents,
    ``N = 1 + sum(document_lengths)``.

    Positions are ``0..N-1`` (the anchor at 0); token ``i`` may attend token ``j`` iff ``j <= i`` and
    ``j`` is the anchor or in ``i``'s document.
    """
    if len(document_lengths) == 0:
        raise ConfigError("document_lengths must hold at least one document, got an empty sequence")
    for index, length in enumerate(document_lengths):
        positive_int(f"document_lengths[{index}]", length)
    doc = torch.cat(
        [torch.zeros(1, dtype=torch.long)]
        + [torch.full((n,), i + 1, dtype=torch.long) for i, n in enumerate(document_lengths)]
    )  # (N,): 0 = anchor, documents 1..
    n = doc.numel()
    causal = torch.ones(n, n, dtype=torch.bool).tril()  # (N, N)
    visible = (doc[:, None] == doc[None, :]) | (doc[None, :] == 0)  # (N, N)
    return torch.arange(n)[:, None], causal & visible


def relative_score_drift(
    query: Tensor, key: Tensor, frequencies: Tensor, offset: int, starts: Tensor, *, angle_dtype: torch.dtype
) -> Tensor:
    """``|score(start) − score(starts[0])|`` per start ``[M]``, where ``score(start)`` is the dot product of
    ``query [D]`` at position ``start + offset`` and ``key [D]`` at ``start``, with angles rounded to
    ``angle_dtype`` before cos/sin. Exact RoPE gives zero for every start."""
    q_pos = (starts + offset)[:, None]  # (M, 1)
    k_pos = starts[:, None]  # (M, 1)
    if angle_dtype == torch.float32:
        q = rotate(query.expand(len(starts), 1, -1), rope_angles(q_pos, frequencies))  # (M, 1, D)
        k = rotate(key.expand(len(starts), 1, -1), rope_angles(k_pos, frequencies))
    else:  # positions, frequencies and the product all in the low-precision dtype, as naive code does
        q_ang = q_pos.to(angle_dtype)[..., None] * frequencies[..., 0].to(angle_dtype)  # (M, H, S)
        k_ang = k_pos.to(angle_dtype)[..., None] * frequencies[..., 0].to(angle_dtype)
        q = apply_rotation(query.expand(len(starts), 1, -1), q_ang.cos().float(), q_ang.sin().float())
        k = apply_rotation(key.expand(len(starts), 1, -1), k_ang.cos().float(), k_ang.sin().float())
    scores = (q * k).sum(-1)[:, 0]  # (M,)
    return (scores - scores[0]).abs()

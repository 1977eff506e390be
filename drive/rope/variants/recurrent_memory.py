"""Recurrent memory with chunked attention and per-head RoPE (after Kashyap, 2025), compact form.

The sequence is processed in chunks of ``chunk_size`` tokens. Inside a chunk, tokens attend causally
to each other with rotary queries and keys (per-head frequencies ``F [H, S, 1]``, token indices as
positions), and read a fixed-size memory bank by position-free cross-attention; a softmax over two
learned logits mixes the two paths. After each chunk the memory reads the chunk and is updated by a
learned gate, ``m ← g ⊙ m + (1 − g) ⊙ m̃``. A chunk never sees later chunks, and a long sequence
processed at once equals the same sequence streamed chunk by chunk with the memory carried over.

Reading: the paper gives no code; memory slots carry no position (they are summaries, not tokens), the
FIFO slot replacement is replaced by the gated update, and there is no separate windowed path inside
a chunk (the chunk *is* the window).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from drive.errors import ConfigError
from drive.rope.attention import RotaryAttention
from drive.rope.embedding import RotaryEmbedding
from drive.rope.variants._checks import non_negative_int, positive_int


class RecurrentMemoryAttention(nn.Module):
    """``x [B, T, E]`` (+ ``memory [B, M, E]``, ``offset`` = index of ``x``'s first token) ->
    ``(out [B, T, E], memory [B, M, E])``."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        frequencies: Tensor,
        *,
        chunk_size: int = 64,
        num_memory: int = 8,
    ) -> None:
        super().__init__()
        self.chunk_size = positive_int("chunk_size", chunk_size)
        positive_int("num_memory", num_memory)
        self.rope = RotaryEmbedding(frequencies)
        if self.rope.num_axes != 1 or self.rope.num_heads not in (1, num_heads):
            raise ConfigError(
                f"frequencies must be [H, S, 1] with H in (1, {num_heads}), got {tuple(frequencies.shape)}"
            )
        self.local = RotaryAttention(embed_dim, num_heads)
        self.read = RotaryAttention(embed_dim, num_heads)
        self.write = RotaryAttention(embed_dim, num_heads)
        self.gate = nn.Linear(2 * embed_dim, embed_dim)
        self.path_logits = nn.Parameter(torch.zeros(2))
        self.memory_init = nn.Parameter(torch.randn(num_memory, embed_dim) * 0.02)

    def initial_memory(self, batch: int) -> Tensor:
        return self.memory_init.expand(batch, -1, -1)  # (B, M, E)

    def forward(self, x: Tensor, memory: Tensor | None = None, offset: int = 0) -> tuple[Tensor, Tensor]:
        non_negative_int("offset", offset)
        B, T, _ = x.shape
        memory = self.initial_memory(B) if memory is None else memory
        outputs = []
        for start in range(0, T, self.chunk_size):
            chunk = x[:, start : start + self.chunk_size]  # (B, C, E)
            out, memory = self._step(chunk, memory, offset + start)
            outputs.append(out)
        return torch.cat(outputs, dim=1), memory

    def _step(self, chunk: Tensor, memory: Tensor, first: int) -> tuple[Tensor, Tensor]:
        B, C, _ = chunk.shape
        steps = torch.arange(first, first + C, device=chunk.device)[:, None]  # (C, 1)
        angle = self.rope(steps).expand(B, C, self.local.num_heads, -1)  # (B, C, H, S)
        causal = torch.ones(C, C, dtype=torch.bool, device=chunk.device).tril().expand(B, C, C)
        local = self.local(chunk, chunk, angle, angle, attn_mask=causal)  # (B, C, E)
        recalled = self.read(chunk, memory, None, None)  # (B, C, E)
        mix = torch.softmax(self.path_logits, dim=0)
        out = mix[0] * local + mix[1] * recalled
        candidate = self.write(memory, chunk, None, None)  # (B, M, E)
        gate = torch.sigmoid(self.gate(torch.cat([memory, candidate], dim=-1)))  # (B, M, E)
        return out, gate * memory + (1.0 - gate) * candidate

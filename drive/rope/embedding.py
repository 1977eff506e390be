"""``RotaryEmbedding``: a thin Module holding the frequency tensor F (buffer or learnable Parameter)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from drive.rope.angles import rope_angles
from drive.rope.rotation import cos_sin


class RotaryEmbedding(nn.Module):
    """Positions ``[..., A]`` -> angles ``[..., H, S]`` with frequencies ``F [H, S, A]``.

    ``learnable=True`` makes F an ``nn.Parameter`` (RoPE-Mixed: per-head frequencies mixing axes, see
    :func:`drive.rope.frequencies.mixed_frequencies`); otherwise F is a buffer that follows ``.to()``.

    ``max_cached_position=N`` keeps a cos/sin table for integer positions ``0..N-1`` on one axis
    (text tokens, time steps): :meth:`cos_sin` then gathers rows instead of recomputing cos and sin.
    The table is built from the same fp32 angles as the uncached path, so both give identical values.
    It is used only for fixed (non-learnable) F, int positions and a single axis.
    """

    def __init__(
        self, frequencies: Tensor, *, learnable: bool = False, max_cached_position: int | None = None
    ) -> None:
        super().__init__()
        if frequencies.dim() == 2:
            frequencies = frequencies.unsqueeze(0)  # (1, S, A): one head, broadcast over all
        if frequencies.dim() != 3:
            raise ValueError(f"frequencies must be [H, S, A] or [S, A], got shape {tuple(frequencies.shape)}")
        if max_cached_position is not None and (
            isinstance(max_cached_position, bool)
            or not isinstance(max_cached_position, int)
            or max_cached_position < 1
        ):
            raise ValueError(
                f"max_cached_position must be None or a positive int, got {max_cached_position!r}"
            )
        frequencies = frequencies.detach().to(torch.float32).clone()
        self.learnable = learnable
        self.max_cached_position = max_cached_position
        if learnable:
            self.frequencies = nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)
        self._table: tuple[Tensor, Tensor] | None = None
        self._table_key: tuple | None = None

    @property
    def num_heads(self) -> int:
        return self.frequencies.shape[0]

    @property
    def num_slots(self) -> int:
        return self.frequencies.shape[1]

    @property
    def num_axes(self) -> int:
        return self.frequencies.shape[2]

    def forward(self, positions: Tensor) -> Tensor:
        """Angles ``[..., H, S]`` (fp32) for ``positions [..., A]``."""
        return rope_angles(positions, self.frequencies)

    def cos_sin(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """``(cos, sin)``, each ``[..., H, S]`` fp32, for ``positions [..., A]``; cached when possible."""
        if self._cacheable(positions):
            cos_table, sin_table = self._cached_table(positions.device)
            index = positions[..., 0].long()
            return cos_table[index], sin_table[index]  # (..., H, S)
        return cos_sin(self(positions))

    def _cacheable(self, positions: Tensor) -> bool:
        if self.max_cached_position is None or self.learnable or self.num_axes != 1:
            return False
        if positions.is_floating_point() or positions.is_complex() or positions.numel() == 0:
            return False
        return bool(positions.min() >= 0) and bool(positions.max() < self.max_cached_position)

    def _cached_table(self, device: torch.device) -> tuple[Tensor, Tensor]:
        # F may change in place (load_state_dict, manual edits): its version counter keys the table.
        key = (device, self.frequencies.data_ptr(), self.frequencies._version)
        if self._table is None or self._table_key != key:
            steps = torch.arange(self.max_cached_position, device=device)[:, None]  # (N, 1)
            self._table = cos_sin(rope_angles(steps, self.frequencies.to(device)))  # 2 x (N, H, S)
            self._table_key = key
        return self._table

    def _apply(self, fn, recurse=True):
        self._table = None  # device or dtype moves invalidate the cached table
        return super()._apply(fn, recurse)

    def extra_repr(self) -> str:
        return (
            f"num_heads={self.num_heads}, num_slots={self.num_slots}, num_axes={self.num_axes}, "
            f"learnable={self.learnable}, max_cached_position={self.max_cached_position}"
        )

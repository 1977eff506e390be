"""Per-layer RoPE probing at inference (after FreeFlux, Wei et al., ICCV 2025).

One :class:`~drive.rope.RotaryAttention` layer at a time is run with edited inputs while the rest of the
network is untouched, and the change of that layer's output (and of the network's output) is measured:

* ``shift``: the same angle offset added to queries and keys (all positions moved by a constant). For a
  relative encoding this must change nothing; a change means a bug or absolute-position leakage.
* ``offset``: an angle offset on the queries only (queries moved relative to keys; FreeFlux shifts the
  keys, the same thing seen from the other side).
* ``remove``: no rotation at all (the layer becomes position-free).
* ``content``: the keys' content permuted among the valid keys while their positions and the values stay
  (what a key *is* no longer matches where it is; routing by position is untouched, routing by content
  is scrambled).

A layer whose output moves much under ``remove``/``offset`` but little under ``content`` routes by
position; the reverse routes by content. Offsets for a position change ``c`` come from the layer's own
frequency table: :func:`position_delta`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from drive.errors import ConfigError
from drive.rope.angles import rope_angles
from drive.rope.attention import RotaryAttention

PROBE_EDITS = ("shift", "offset", "remove", "content")
_ARG_NAMES = (
    "query",
    "key_value",
    "query_angle",
    "key_angle",
    "key_padding_mask",
    "attn_mask",
    "return_weights",
    "logit_scale",
)


def position_delta(frequencies: Tensor, offset: Tensor | tuple[float, ...]) -> Tensor:
    """Angle offset ``[H, S]`` that moving a position by ``offset [A]`` adds, for ``F [H, S, A]``."""
    offset = torch.as_tensor(offset, dtype=torch.float32, device=frequencies.device)
    return rope_angles(offset, frequencies)


@dataclass(frozen=True)
class RotaryEdit:
    """One edit of a rotary layer's inputs: ``kind`` in :data:`PROBE_EDITS`; ``delta [H, S]`` the angle
    offset for ``shift``/``offset``; ``seed`` for the ``content`` permutation."""

    kind: str
    delta: Tensor | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in PROBE_EDITS:
            raise ConfigError(f"kind must be one of {PROBE_EDITS}, got {self.kind!r}")
        if self.kind in ("shift", "offset") and self.delta is None:
            raise ConfigError(f"kind={self.kind!r} needs delta [H, S], got None")


def _add(angle: Tensor | None, delta: Tensor) -> Tensor | None:
    if angle is None:
        return None
    return angle + delta.to(device=angle.device, dtype=angle.dtype)  # (B, N, H, S)


def valid_key_permutation(valid: Tensor, generator: torch.Generator) -> Tensor:
    """``index [B, N]`` (long) that maps each valid slot to a random valid slot of its row and each
    invalid slot to an invalid one: ``x.gather(1, index)`` shuffles content among the valid entries."""
    B, N = valid.shape
    order = torch.arange(N, dtype=torch.float32).expand(B, N)
    noise = torch.rand(B, N, generator=generator)
    big = float(N + 1)
    in_order = torch.where(valid.cpu(), order, order + big).argsort(dim=1)  # valid slots first
    shuffled = torch.where(valid.cpu(), noise, order + big).argsort(dim=1)  # valid slots first, shuffled
    index = torch.empty(B, N, dtype=torch.long)
    index.scatter_(1, in_order, shuffled)
    return index.to(valid.device)


@contextmanager
def edit_rotary(module: RotaryAttention, edit: RotaryEdit) -> Iterator[None]:
    """Within the block, every call of ``module`` runs with ``edit`` applied to its inputs."""
    state: dict[str, Tensor] = {}

    def pre_hook(mod, args, kwargs):
        call = dict(zip(_ARG_NAMES, args)) | kwargs
        if edit.kind == "remove":
            call["query_angle"] = call["key_angle"] = None
        elif edit.kind == "shift":
            call["query_angle"] = _add(call.get("query_angle"), edit.delta)
            call["key_angle"] = _add(call.get("key_angle"), edit.delta)
        elif edit.kind == "offset":
            call["query_angle"] = _add(call.get("query_angle"), edit.delta)
        else:
            kv = call["key_value"]
            mask = call.get("key_padding_mask")
            valid = torch.ones(kv.shape[:2], dtype=torch.bool, device=kv.device) if mask is None else mask
            state["index"] = valid_key_permutation(valid, torch.Generator().manual_seed(edit.seed))
        return (), call

    def k_hook(mod, args, output):
        index = state["index"]  # (B, Nk)
        keys = output.view(*index.shape, -1)  # (B, Nk, D), whether projected as [B, Nk, D] or [B*Nk, D]
        return keys.gather(1, index[..., None].expand_as(keys)).view_as(output)  # keys moved, not values

    handles = [module.register_forward_pre_hook(pre_hook, with_kwargs=True)]
    if edit.kind == "content":
        handles.append(module.k_proj.register_forward_hook(k_hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def capture_output(module: torch.nn.Module, store: list) -> Iterator[None]:
    """Within the block, append each output of ``module`` (and the valid-query mask of a self-attention
    call, else None) to ``store`` as ``(output, query_mask)``."""

    def hook(mod, args, kwargs, output):
        call = dict(zip(_ARG_NAMES, args)) | kwargs
        mask = call.get("key_padding_mask")
        same = call["query"] is call["key_value"]
        output = output[0] if isinstance(output, tuple) else output  # (out, weights) with return_weights
        store.append((output.detach(), mask if same and mask is not None else None))

    handle = module.register_forward_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def relative_change(edited: Tensor, reference: Tensor, row_mask: Tensor | None = None) -> float:
    """Mean over rows of ``|edited - reference| / |reference|`` for ``[..., D]`` outputs; rows where
    ``row_mask [...]`` is False are ignored."""
    edited, reference = edited.detach(), reference.detach()
    diff = (edited - reference).double().norm(dim=-1)
    scale = reference.double().norm(dim=-1).clamp_min(1e-12)
    ratio = diff / scale
    if row_mask is not None:
        ratio = ratio[row_mask.expand_as(ratio)]
    return float(ratio.mean()) if ratio.numel() else 0.0

"""RoAd (Liao & Monz, NeurIPS 2024): fine-tuning by 2-D rotations of a frozen linear layer's outputs.

After a frozen ``h = W x + b`` each pair ``(h_a, h_b)`` of output channels is mapped to
``z_a = c_a h_a - s_a h_b``, ``z_b = s_b h_a + c_b h_b`` with ``c = α cos θ`` and ``s = α sin θ``:

* ``road_1``: one ``(θ, α)`` per pair (``c_a = c_b``, ``s_a = s_b``: a scaled rotation), D params;
* ``road_2``: one ``(θ, α)`` per output element, so the two rows of each 2x2 block differ, 2D params;
* ``road_4``: like ``road_2`` with ``c`` and ``s`` taken from two separate ``(θ, α)`` sets, 4D params.

Pairs follow the core's layouts inside groups of ``group_size`` channels (``"half"`` pairs ``e`` with
``e + g/2``, as HF PEFT does; ``"interleaved"`` pairs ``2i`` with ``2i + 1``). ``θ = 0, α = 1`` at
initialisation makes the adapter the identity. Each pair is computed by the core's
:func:`drive.rope.apply_rotation` with these (scaled) cos/sin coefficients, and an adapter is nothing but
the two coefficient vectors, so a batch can mix adapters (one id per sample) at element-wise cost.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from drive.errors import ConfigError
from drive.rope.rotation import LAYOUTS, apply_rotation
from drive.rope.variants._checks import positive_int

ROAD_VARIANTS = ("road_1", "road_2", "road_4")


def _members(t: Tensor, layout: str) -> tuple[Tensor, Tensor]:
    """``t [..., g]`` -> first and second member of each pair, each ``[..., g/2]``."""
    half = t.shape[-1] // 2
    if layout == "half":
        return t[..., :half], t[..., half:]
    return t[..., 0::2], t[..., 1::2]


def road_coefficients(theta: Tensor, alpha: Tensor, variant: str) -> tuple[Tensor, Tensor]:
    """Per-element coefficients ``(c, s)``, each ``[..., D]`` in the output's channel order, from the
    adapter parameters: ``road_1`` ``θ, α [..., D/2]`` (per pair, expanded to both members by the caller's
    layout, see :func:`road_transform`); ``road_2`` ``[..., D]``; ``road_4`` ``[..., 2, D]`` (set 0 gives
    ``c``, set 1 gives ``s``). Computed in fp32."""
    theta, alpha = theta.float(), alpha.float()
    if variant == "road_4":
        return alpha[..., 0, :] * torch.cos(theta[..., 0, :]), alpha[..., 1, :] * torch.sin(theta[..., 1, :])
    if variant in ("road_1", "road_2"):
        return alpha * torch.cos(theta), alpha * torch.sin(theta)
    raise ConfigError(f"variant must be one of {ROAD_VARIANTS}, got {variant!r}")


def road_transform(
    h: Tensor, cos: Tensor, sin: Tensor, group_size: int, layout: str = "half", per_pair: bool = False
) -> Tensor:
    """Apply RoAd coefficients to ``h [..., D]``; ``cos, sin`` broadcast against ``h`` with last dim D
    (per element) or D/2 (``per_pair``: one value per pair, ``road_1``). Returns ``h``'s shape and dtype.

    Both members of a pair come out of :func:`drive.rope.apply_rotation`: once with the first members'
    coefficients and, when those differ from the second members' (``road_2``/``road_4``), once more with
    the second members'."""
    D = h.shape[-1]
    groups = D // group_size
    x = h.unflatten(-1, (groups, group_size))  # (..., G, g)
    if per_pair:
        c = cos.unflatten(-1, (groups, group_size // 2))  # (..., G, g/2)
        s = sin.unflatten(-1, (groups, group_size // 2))
        return apply_rotation(x, c, s, layout).flatten(-2)  # (..., D)
    c_a, c_b = _members(cos.unflatten(-1, (groups, group_size)), layout)  # (..., G, g/2) each
    s_a, s_b = _members(sin.unflatten(-1, (groups, group_size)), layout)
    z_a = apply_rotation(x, c_a, s_a, layout)  # (..., G, g): right for first members
    z_b = apply_rotation(x, c_b, s_b, layout)  # (..., G, g): right for second members
    first = torch.zeros(group_size, dtype=torch.bool, device=h.device)
    if layout == "half":
        first[: group_size // 2] = True
    else:
        first[0::2] = True
    return torch.where(first, z_a, z_b).flatten(-2)  # (..., D)


class RoAdAdapter(nn.Module):
    """``num_adapters`` RoAd adapters for ``dim`` output channels; identity at initialisation.

    ``forward(h [B, ..., D], adapter_idx [B] long | int | None) -> [B, ..., D]``: sample b uses adapter
    ``adapter_idx[b]``; an int (or None = ``active_adapter``) uses one adapter for the whole batch.
    """

    def __init__(
        self,
        dim: int,
        *,
        variant: str = "road_1",
        group_size: int | None = None,
        num_adapters: int = 1,
        layout: str = "half",
    ) -> None:
        super().__init__()
        positive_int("dim", dim)
        positive_int("num_adapters", num_adapters)
        group_size = dim if group_size is None else positive_int("group_size", group_size)
        if variant not in ROAD_VARIANTS:
            raise ConfigError(f"variant must be one of {ROAD_VARIANTS}, got {variant!r}")
        if layout not in LAYOUTS:
            raise ConfigError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if group_size % 2 or dim % group_size:
            raise ConfigError(f"group_size must be even and divide dim={dim}, got {group_size!r}")
        self.dim, self.variant, self.group_size, self.layout = dim, variant, group_size, layout
        self.active_adapter = 0
        shape = {"road_1": (dim // 2,), "road_2": (dim,), "road_4": (2, dim)}[variant]
        self.theta = nn.Parameter(torch.zeros(num_adapters, *shape))
        self.alpha = nn.Parameter(torch.ones(num_adapters, *shape))

    @property
    def num_adapters(self) -> int:
        return self.theta.shape[0]

    def coefficients(self, adapter_idx: Tensor | int) -> tuple[Tensor, Tensor]:
        """``(c, s)`` of the chosen adapter(s): ``[D or D/2]`` for an int, ``[B, D or D/2]`` for ids."""
        return road_coefficients(self.theta[adapter_idx], self.alpha[adapter_idx], self.variant)

    def forward(self, h: Tensor, adapter_idx: Tensor | int | None = None) -> Tensor:
        if h.shape[-1] != self.dim:
            raise ValueError(f"expected last dim {self.dim}, got shape {tuple(h.shape)}")
        idx = self.active_adapter if adapter_idx is None else adapter_idx
        c, s = self.coefficients(idx)
        if isinstance(idx, Tensor):
            if idx.shape != h.shape[:1]:
                raise ValueError(f"adapter_idx must be [B] = [{h.shape[0]}], got {tuple(idx.shape)}")
            middle = (1,) * (h.dim() - 2)  # sample b's coefficients broadcast over its other dims
            c, s = c.view(c.shape[0], *middle, c.shape[-1]), s.view(s.shape[0], *middle, s.shape[-1])
        return road_transform(h, c, s, self.group_size, self.layout, per_pair=self.variant == "road_1")


class RoAdLinear(nn.Module):
    """A frozen ``nn.Linear`` followed by a :class:`RoAdAdapter` on its outputs.

    ``forward(x [B, ..., in], adapter_idx [B] | int | None = None) -> [B, ..., out]``.
    """

    def __init__(self, base: nn.Linear, **adapter_options) -> None:
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.adapter = RoAdAdapter(base.out_features, **adapter_options)

    def forward(self, x: Tensor, adapter_idx: Tensor | int | None = None) -> Tensor:
        return self.adapter(self.base(x), adapter_idx)

    @torch.no_grad()
    def merged(self, adapter: int = 0) -> nn.Linear:
        """A plain ``nn.Linear`` equal to this layer with ``adapter``: ``W <- R W``, ``b <- R b``."""
        base = self.base
        merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None)
        merged = merged.to(device=base.weight.device, dtype=base.weight.dtype)
        merged.weight.copy_(self.adapter(base.weight.T, adapter).T)  # R acts on each column of W
        if base.bias is not None:
            merged.bias.copy_(self.adapter(base.bias, adapter))
        return merged


def add_road(
    model: nn.Module,
    *,
    select: Callable[[str, nn.Linear], bool] | None = None,
    freeze: bool = True,
    **adapter_options,
) -> list[str]:
    """Wrap ``model``'s ``nn.Linear`` layers (those ``select(name, layer)`` accepts; default all) in
    :class:`RoAdLinear`, in place. Layers whose output width does not fit ``group_size`` (e.g. one logit)
    are left alone, and so are layers that already carry an adapter. With ``freeze`` every parameter but
    the adapters' stops requiring gradients. Returns the names of the wrapped layers."""
    wrapped = []
    inside = {id(m.base) for m in model.modules() if isinstance(m, RoAdLinear)}  # already adapted
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and id(module) not in inside
        and (select is None or select(name, module))
    ]
    group = adapter_options.get("group_size")
    for name, layer in targets:
        width = layer.out_features
        if width % 2 or (group is not None and width % group):
            continue
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, RoAdLinear(layer, **adapter_options))
        wrapped.append(name)
    if freeze:
        for name, p in model.named_parameters():
            p.requires_grad_(".adapter." in f".{name}")
    return wrapped


def road_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of every :class:`RoAdAdapter` in ``model``."""
    return [p for m in model.modules() if isinstance(m, RoAdAdapter) for p in m.parameters()]


def set_active_adapter(model: nn.Module, adapter: int) -> None:
    """Make ``adapter`` the one every :class:`RoAdAdapter` of ``model`` uses when called without ids."""
    for m in model.modules():
        if isinstance(m, RoAdAdapter):
            if not 0 <= adapter < m.num_adapters:
                raise ConfigError(f"adapter must be in [0, {m.num_adapters}), got {adapter!r}")
            m.active_adapter = adapter

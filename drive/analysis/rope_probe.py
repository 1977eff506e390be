"""The per-layer RoPE probe run on a :class:`~drive.models.TrajectoryPredictor`.

Each rotary layer of the model (temporal history attention: 1-D RoPE on the step index; map/agent
interaction and decoder attention: RoPE on x/y in metres plus DRoPE on the heading) is edited alone
(:mod:`drive.rope.variants.probe`), and the change of its own output and of the predicted trajectories
is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from drive.data.batch import SceneBatch
from drive.errors import ConfigError
from drive.nn import PoseRotaryAttention
from drive.rope import RotaryAttention
from drive.rope.variants.probe import (
    PROBE_EDITS,
    RotaryEdit,
    capture_output,
    edit_rotary,
    position_delta,
    relative_change,
)


@dataclass(frozen=True)
class ProbeSettings:
    """Position changes used by the edits: a common shift (must change nothing) and a query-only offset,
    for pose layers as (x m, y m, heading rad) and for time layers in steps."""

    pose_shift: tuple[float, float, float] = (30.0, -20.0, 1.0)
    pose_offset: tuple[float, float, float] = (5.0, 0.0, 0.0)
    time_shift_steps: float = 7.0
    time_offset_steps: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.pose_shift) != 3 or len(self.pose_offset) != 3:
            raise ConfigError("ProbeSettings.pose_shift and pose_offset must be (x m, y m, heading rad)")


@dataclass(frozen=True)
class LayerProbe:
    """One layer's result: ``layer`` name, ``axes`` ("time" or "pose"), per edit the mean relative change
    of the layer's output (``layer_change``) and the mean displacement of the target agents' predicted
    trajectories in metres (``prediction_change_m``)."""

    layer: str
    axes: str
    layer_change: dict[str, float]
    prediction_change_m: dict[str, float]


def rotary_layers(model: nn.Module) -> list[tuple[str, RotaryAttention, torch.Tensor, str]]:
    """``(name, layer, frequencies [H, S, A], axes)`` for every RotaryAttention of the model that can
    rotate: pose layers take their frequency table from the enclosing PoseRotaryAttention, the others
    the encoder's time table (see :func:`called_with_angles` for the ones that actually rotate)."""
    modules = dict(model.named_modules())
    time_freqs = getattr(getattr(model, "encoder", None), "time_freqs", None)
    found = []
    for name, module in modules.items():
        if not isinstance(module, RotaryAttention):
            continue
        parent_name = name.rpartition(".")[0]
        parent = modules.get(parent_name)
        if isinstance(parent, PoseRotaryAttention):
            if parent.use_rotary:
                found.append((parent_name, module, parent.freqs, "pose"))
        elif time_freqs is not None:
            found.append((name, module, time_freqs, "time"))
    return found


@torch.no_grad()
def called_with_angles(model: nn.Module, batch: SceneBatch, layers: list) -> list:
    """The entries of ``layers`` whose module receives rotation angles in a forward pass on ``batch``
    (e.g. the decoder's mode self-attention is called without any and is dropped)."""
    rotating: set[int] = set()

    def record(module, args, kwargs):
        call = dict(zip(("query", "key_value", "query_angle", "key_angle"), args)) | kwargs
        if call.get("query_angle") is not None or call.get("key_angle") is not None:
            rotating.add(id(module))

    handles = [layer.register_forward_pre_hook(record, with_kwargs=True) for _, layer, *_ in layers]
    try:
        model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return [entry for entry in layers if id(entry[1]) in rotating]


def _target_displacement(edited: torch.Tensor, reference: torch.Tensor, target_mask: torch.Tensor) -> float:
    """Mean distance (m) between two ``[B, A, K, Tf, 2]`` predictions over target agents."""
    dist = (edited - reference).norm(dim=-1).mean(dim=(-1, -2))  # (B, A)
    return float(dist[target_mask].mean()) if target_mask.any() else 0.0


@torch.no_grad()
def probe_model(
    model: nn.Module, batch: SceneBatch, settings: ProbeSettings = ProbeSettings()
) -> list[LayerProbe]:  # noqa: B008
    """Edit each rotary layer alone with every edit of :data:`PROBE_EDITS`; see :class:`LayerProbe`."""
    settings = ProbeSettings() if settings is None else settings
    model.eval()
    results = []
    layers = called_with_angles(model, batch, rotary_layers(model))
    for name, layer, freqs, axes in layers:
        store: list = []
        with capture_output(layer, store):
            reference = model(batch).trajectory
        (ref_out, row_mask) = store[0]
        if axes == "pose":
            shift = position_delta(freqs, settings.pose_shift)
            offset = position_delta(freqs, settings.pose_offset)
        else:
            shift = position_delta(freqs, (settings.time_shift_steps,))
            offset = position_delta(freqs, (settings.time_offset_steps,))
        edits = {
            "shift": RotaryEdit("shift", shift),
            "offset": RotaryEdit("offset", offset),
            "remove": RotaryEdit("remove"),
            "content": RotaryEdit("content", seed=settings.seed),
        }
        layer_change, prediction_change = {}, {}
        for kind in PROBE_EDITS:
            store = []
            with capture_output(layer, store), edit_rotary(layer, edits[kind]):
                edited = model(batch).trajectory
            layer_change[kind] = relative_change(store[0][0], ref_out, row_mask)
            prediction_change[kind] = _target_displacement(edited, reference, batch.target_mask)
        results.append(LayerProbe(name, axes, layer_change, prediction_change))
    return results


def probe_table(results: list[LayerProbe]) -> str:
    """A Markdown table: per layer the relative output change and the prediction change per edit."""
    head = "| layer | axes | " + " | ".join(f"{k} (layer)" for k in PROBE_EDITS)
    head += " | " + " | ".join(f"{k} (pred, m)" for k in PROBE_EDITS) + " |"
    rule = "|---|---|" + "---:|" * (2 * len(PROBE_EDITS))
    rows = [head, rule]
    for r in results:
        cells = [f"{r.layer_change[k]:.2e}" for k in PROBE_EDITS]
        cells += [f"{r.prediction_change_m[k]:.3f}" for k in PROBE_EDITS]
        rows.append(f"| `{r.layer}` | {r.axes} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot_probe(results: list[LayerProbe], path) -> None:
    """Grouped bars per layer (log scale): relative output change under offset, remove and content."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = ("offset", "remove", "content")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(results) + 2), 4.2))
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        values = [max(r.layer_change[kind], 1e-8) for r in results]
        ax.bar([x + (i - 1) * width for x in range(len(results))], values, width, label=kind)
    ax.set_yscale("log")
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels(
        [r.layer.replace("encoder.", "enc.").replace("decoder.", "dec.") for r in results],
        rotation=60,
        ha="right",
        fontsize=7,
    )
    ax.set_ylabel("relative change of the layer's output")
    ax.set_title("Per-layer RoPE probe: how much each layer's output moves")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

"""Adapting a trained :class:`~drive.models.TrajectoryPredictor` to a new data source with RoAd only.

Every ``nn.Linear`` of the model gets a :class:`~drive.rope.variants.road.RoAdAdapter` on its outputs
(identity at the start), all original weights are frozen, and only the adapters' angles and scales are
trained on the new source. The frozen model is the baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from drive.analysis.training import QuickTrainSettings, evaluate, train, window_scenes
from drive.data.schema import Scenario
from drive.datasets import iter_scenarios
from drive.rope.variants.road import add_road, road_parameters


@dataclass(frozen=True)
class RoAdSettings:
    """What to adapt and how long: RoAd ``variant`` and ``group_size`` (None = a layer's whole output),
    Adam ``lr``, and the step/minute budget."""

    variant: str = "road_1"
    group_size: int | None = None
    lr: float = 5e-3
    batch_size: int = 8
    max_steps: int = 300
    max_minutes: float = 1.0
    seed: int = 0


@dataclass(frozen=True)
class RoAdResult:
    """Metrics of the frozen model and of the adapted one on held-out scenes, parameter counts, the
    wrapped layer names and the adaptation losses."""

    frozen: dict[str, float]
    adapted: dict[str, float]
    trainable_parameters: int
    total_parameters: int
    wrapped_layers: list[str]
    losses: list[float] = field(repr=False)


def eth_ucy_scenes(
    root: str | Path, scene: str, split: str, settings: QuickTrainSettings, limit: int | None = None
) -> list[Scenario]:
    """Windows (Th + Tf steps of the settings) of an ETH/UCY leave-one-out split."""
    scenes = iter_scenarios(
        root,
        scene=scene,
        split=split,
        num_observed_steps=settings.num_history_steps,
        num_future_steps=settings.num_future_steps,
    )
    return window_scenes(scenes, settings, limit)


def finetune_road(
    model: nn.Module,
    train_scenes: Sequence[Scenario],
    eval_scenes: Sequence[Scenario],
    settings: RoAdSettings | None = None,
    log: Callable[[str], None] = print,
) -> RoAdResult:
    """Evaluate ``model`` frozen, wrap its linear layers in RoAd (in place), train only the adapters on
    ``train_scenes`` and evaluate again on ``eval_scenes``."""
    settings = RoAdSettings() if settings is None else settings
    frozen = evaluate(model, eval_scenes)
    log(f"frozen: {_fmt(frozen)}")
    wrapped = add_road(model, variant=settings.variant, group_size=settings.group_size)
    params = road_parameters(model)
    trainable = sum(p.numel() for p in params)
    total = sum(p.numel() for p in model.parameters())
    log(f"RoAd ({settings.variant}) on {len(wrapped)} layers: {trainable} trainable of {total} parameters")
    losses = train(
        model,
        train_scenes,
        params,
        batch_size=settings.batch_size,
        lr=settings.lr,
        max_steps=settings.max_steps,
        max_minutes=settings.max_minutes,
        seed=settings.seed,
    )
    adapted = evaluate(model, eval_scenes)
    log(f"adapted after {len(losses)} steps: {_fmt(adapted)}")
    return RoAdResult(frozen, adapted, trainable, total, wrapped, losses)


def _fmt(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())


def result_table(result: RoAdResult) -> str:
    """A Markdown table: frozen vs RoAd-adapted metrics on the held-out scenes."""
    rows = ["| model | trainable params | loss | minADE (m) | minFDE (m) |", "|---|---:|---:|---:|---:|"]
    for name, metrics, count in (
        ("frozen (trained on simulated traffic)", result.frozen, 0),
        ("+ RoAd adapters", result.adapted, result.trainable_parameters),
    ):
        rows.append(
            f"| {name} | {count} of {result.total_parameters} | {metrics['loss']:.3f} | "
            f"{metrics['minADE']:.3f} | {metrics['minFDE']:.3f} |"
        )
    return "\n".join(rows)

"""The main job on the embedded default: simulate traffic, train DRoPE-RoPE, evaluate, render.

Everything lands under one work directory (``outputs/`` by default): ``sim/`` (the simulated scenes,
reused on later runs), ``runs/version_<n>/`` (config, logs, checkpoints) and ``demo/`` (metrics JSON,
tables, figures and the HTML viewer).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from drive.errors import ConfigError
from drive.evaluation import constant_velocity, evaluate
from drive.models.config import PredictorConfig
from drive.training.callbacks import LastCheckpoint
from drive.training.cli import run_version
from drive.training.inference import predict_scenarios
from drive.training.module import TrajectoryModule, load_module
from drive.training.sources import SimDataModule

COMPARED_KEYS = (
    "minADE_6",
    "minFDE_6",
    "MR_6",
    "brier_minFDE_6",
    "minADE_1",
    "minFDE_1",
    "MR_1",
    "minADE",
    "minFDE",
    "miss_rate",
    "overlap_rate",
    "mAP",
    "soft_mAP",
)


@dataclass(frozen=True)
class DemoSettings:
    """Sizes chosen so the whole job fits in 15 minutes on 2 CPU cores (see docs/training.md)."""

    num_scenes: int = 600
    sim_seed: int = 0
    seed: int = 0
    max_epochs: int = 24
    max_train_minutes: float = 10.0  # a safety net on a busy machine
    batch_size: int = 4
    lr: float = 5e-3
    hidden_dim: int = 64
    num_heads: int = 4
    map_keep_every: int = 10
    limit_train_batches: int | None = None
    limit_eval_scenes: int | None = None
    num_figures: int = 4
    viewer_scenes: int = 20

    def __post_init__(self) -> None:
        for name in ("num_scenes", "max_epochs", "batch_size", "hidden_dim", "num_heads", "map_keep_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"demo: {name} = {getattr(self, name)!r} is invalid: must be >= 1")
        if not self.max_train_minutes > 0:
            raise ConfigError(f"demo: max_train_minutes = {self.max_train_minutes!r} must be > 0")


QUICK = DemoSettings(
    num_scenes=30,
    max_epochs=1,
    max_train_minutes=1.0,
    batch_size=4,
    hidden_dim=32,
    num_heads=2,
    limit_train_batches=3,
    limit_eval_scenes=6,
    num_figures=1,
    viewer_scenes=3,
)


def _trainer(settings: DemoSettings, runs: Path, quiet: bool) -> pl.Trainer:
    version = f"version_{run_version(runs, resume_last=False)}"
    checkpoint = ModelCheckpoint(
        monitor="val/minFDE",
        mode="min",
        save_top_k=1,
        filename="best-epoch{epoch:03d}-step{step}",
        auto_insert_metric_name=False,
    )
    return pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=settings.max_epochs,
        max_time={"minutes": settings.max_train_minutes},
        default_root_dir=runs,
        logger=[
            CSVLogger(runs, name="", version=version),
            TensorBoardLogger(runs, name="", version=version, sub_dir="tensorboard", default_hp_metric=False),
        ],
        callbacks=[checkpoint, LastCheckpoint()],
        gradient_clip_val=1.0,
        log_every_n_steps=10,
        limit_train_batches=settings.limit_train_batches,
        limit_val_batches=2 if quiet else None,
        num_sanity_val_steps=0,
        enable_progress_bar=not quiet,
        enable_model_summary=not quiet,
    )


def comparison_table(model: dict[str, float], baseline: dict[str, float]) -> str:
    rows = [f"{'metric':<16}{'DRoPE-RoPE':>12}{'const. vel.':>13}"]
    for key in COMPARED_KEYS:
        if key in model and key in baseline:
            rows.append(f"{key:<16}{model[key]:>12.3f}{baseline[key]:>13.3f}")
    return "\n".join(rows)


def run_demo(workdir: Path, settings: DemoSettings, quiet: bool = False) -> dict:
    """Run the whole job; returns the summary that is also written to ``demo/metrics.json``."""
    start = time.monotonic()
    out = workdir / "demo"
    out.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(settings.seed, workers=True, verbose=False)
    data = SimDataModule(
        root=str(workdir / "sim"),
        num_scenes=settings.num_scenes,
        sim_seed=settings.sim_seed,
        num_history_steps=11,
        num_future_steps=80,
        batch_size=settings.batch_size,
        map_keep_every=settings.map_keep_every,
        seed=settings.seed,
    )
    print(f"[1/4] simulating traffic into {workdir / 'sim'} (reused when already there)")
    data.prepare_data()
    timings = {"simulate_s": time.monotonic() - start}

    print("[2/4] training the DRoPE-RoPE model")
    config = PredictorConfig(
        num_future_steps=80,
        hidden_dim=settings.hidden_dim,
        num_heads=settings.num_heads,
        num_temporal_layers=1,
        num_interaction_layers=1,
        xy_slots=2,
        heading_slots=2,
        dropout=0.0,
        refine=False,
    )
    module = TrajectoryModule(config, lr=settings.lr, warmup_fraction=0.05)
    trainer = _trainer(settings, workdir / "runs", quiet)
    trainer.fit(module, datamodule=data)
    ckpt = trainer.checkpoint_callback.best_model_path or str(LastCheckpoint.path(trainer))
    timings["train_s"] = time.monotonic() - start - timings["simulate_s"]

    print("[3/4] evaluating on the test split (model and constant-velocity baseline, same evaluator)")
    best, window = load_module(ckpt)
    scenes = data.load_split("test")[: settings.limit_eval_scenes]
    pairs = list(predict_scenarios(best, scenes, **window))
    scored = [scene for scene, _ in pairs]
    model_result = evaluate(scored, [p for _, p in pairs])
    baseline_result = evaluate(scored, lambda s: constant_velocity(s, window["num_future_steps"], 1))
    timings["evaluate_s"] = time.monotonic() - start - sum(timings.values())

    print("[4/4] rendering predicted scenes")
    figures = _render(out, pairs, settings)
    timings["render_s"] = time.monotonic() - start - sum(timings.values())
    timings["total_s"] = time.monotonic() - start
    summary = {
        "checkpoint": str(ckpt),
        "settings": dataclasses.asdict(settings),
        "timings_s": timings,
        "model": model_result.to_json(),
        "constant_velocity": baseline_result.to_json(),
        "figures": [str(f) for f in figures],
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    table = comparison_table(model_result.metrics, baseline_result.metrics)
    full = model_result.table("DRoPE-RoPE on the simulated test split")
    (out / "metrics.txt").write_text(table + "\n\n" + full + "\n")
    _report(summary, table, full, out)
    return summary


def _render(out: Path, pairs: list, settings: DemoSettings) -> list[Path]:
    from drive.viz import match_prediction, save_figure
    from drive.viz.run import write_run_viewer

    figures = []
    for scene, prediction in pairs[: settings.num_figures]:
        path = out / f"scene_{len(figures)}.png"
        save_figure(path, scene, match_prediction(scene, prediction))
        figures.append(path)
    viewer = out / "viewer.html"
    lookup = {p.scenario_id: p for _, p in pairs}
    write_run_viewer(
        viewer,
        [s for s, _ in pairs[: settings.viewer_scenes]],
        lambda s: lookup.get(s.scenario_id),
        title="drive demo: DRoPE-RoPE on simulated traffic",
    )
    return [*figures, viewer]


def _report(summary: dict, table: str, full: str, out: Path) -> None:
    model, baseline = summary["model"]["metrics"], summary["constant_velocity"]["metrics"]
    print()
    print(full)
    print()
    print(table)
    beats = all(model[k] < baseline[k] for k in ("minADE_6", "minFDE_6"))
    verdict = "beats" if beats else "does NOT beat"
    print(
        f"\nThe model {verdict} the constant-velocity baseline on minADE_6/minFDE_6 "
        f"({model['minADE_6']:.2f}/{model['minFDE_6']:.2f} m vs {baseline['minADE_6']:.2f}/"
        f"{baseline['minFDE_6']:.2f} m)."
    )
    t = summary["timings_s"]
    print(
        f"time: simulate {t['simulate_s']:.0f} s, train {t['train_s']:.0f} s, "
        f"evaluate {t['evaluate_s']:.0f} s, render {t['render_s']:.0f} s, total {t['total_s']:.0f} s"
    )
    print(f"\nfigures:    {out}/scene_*.png and {out}/viewer.html")
    print(f"metrics:    {out}/metrics.json (and metrics.txt)")
    print(f"checkpoint: {summary['checkpoint']}")

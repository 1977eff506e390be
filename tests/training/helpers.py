"""A tiny model and trainer for fast training tests on CPU."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

from drive.models.config import PredictorConfig
from drive.training.callbacks import LastCheckpoint
from drive.training.module import TrajectoryModule
from tests.training.scenes import SyntheticDataModule

TINY = dict(
    hidden_dim=32,
    num_heads=2,
    num_temporal_layers=1,
    num_interaction_layers=1,
    xy_slots=2,
    heading_slots=2,
    dropout=0.0,
    num_modes=3,
)


def tiny_module(num_future_steps: int = 12, **overrides) -> TrajectoryModule:
    return TrajectoryModule(
        PredictorConfig(num_future_steps=num_future_steps, **{**TINY, **overrides}), lr=1e-3
    )


def tiny_data(**overrides) -> SyntheticDataModule:
    return SyntheticDataModule(**{"num_train": 8, "num_val": 2, "num_test": 2, "batch_size": 2, **overrides})


def tiny_trainer(
    root: Path,
    callbacks=(),
    every_n_train_steps: int | None = None,
    monitor: str | None = "val/minFDE",
    **overrides,
) -> pl.Trainer:
    checkpoint = ModelCheckpoint(dirpath=root / "checkpoints", monitor=monitor)
    options = dict(
        max_epochs=1,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=root,
    )
    return pl.Trainer(
        callbacks=[checkpoint, LastCheckpoint(every_n_train_steps), *callbacks], **{**options, **overrides}
    )

"""The LightningModule: loss, optimiser, schedule, metrics and safety checks around
:class:`drive.models.TrajectoryPredictor`. No architecture lives here."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytorch_lightning as pl
import torch
from torch.optim.lr_scheduler import LambdaLR

from drive.data.batch import SceneBatch
from drive.errors import CheckpointError, ConfigError, DriveError
from drive.losses import prediction_loss
from drive.metrics.av2 import AV2Metrics
from drive.models import Prediction, TrajectoryPredictor, prediction_to_world
from drive.models.config import PredictorConfig
from drive.training.checkpoint import META_KEY, check_meta, checkpoint_meta, read_checkpoint
from drive.training.targets import TargetRows, target_rows


class NonFiniteLossError(DriveError, FloatingPointError):
    """The training loss or a gradient became NaN or infinite; the message says where."""


def predictor_config(value: PredictorConfig | dict[str, Any]) -> PredictorConfig:
    """A :class:`PredictorConfig` from itself or from a plain dict (as stored in checkpoints); an
    unknown key is a :class:`ConfigError` listing the valid ones."""
    if isinstance(value, PredictorConfig):
        return value
    valid = {f.name for f in dataclasses.fields(PredictorConfig)}
    unknown = sorted(set(value) - valid)
    if unknown:
        raise ConfigError(
            f"model.predictor: unknown key(s) {unknown}; valid keys: {', '.join(sorted(valid))}"
        )
    return PredictorConfig(**value)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """Learning-rate factor: linear warm-up from ~0 to 1 over ``warmup_steps``, then cosine decay to
    ``min_lr_ratio`` at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class TrajectoryModule(pl.LightningModule):
    """Trains and evaluates a :class:`TrajectoryPredictor`.

    Args:
        predictor: the model's configuration (``num_future_steps`` is linked from the data).
        lr: peak AdamW learning rate.
        weight_decay: AdamW decoupled weight decay (not applied to biases and norm weights).
        warmup_fraction: share of all optimiser steps spent warming up linearly.
        min_lr_ratio: final learning rate as a fraction of ``lr`` after cosine decay.
        grad_clip_norm: not here; use ``trainer.gradient_clip_val``.
    """

    def __init__(
        self,
        predictor: PredictorConfig = PredictorConfig(),  # noqa: B008 -- frozen, safe as a default
        lr: float = 5e-4,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.01,
    ) -> None:
        super().__init__()
        config = predictor_config(predictor)
        if not lr > 0:
            raise ConfigError(f"model.lr = {lr!r} is invalid: must be > 0")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ConfigError(f"model.warmup_fraction = {warmup_fraction!r} is invalid: must be in [0, 1)")
        if not 0.0 <= min_lr_ratio <= 1.0:
            raise ConfigError(f"model.min_lr_ratio = {min_lr_ratio!r} is invalid: must be in [0, 1]")
        # Plain values only, so checkpoints load with torch.load(weights_only=True).
        self.save_hyperparameters(
            {
                "predictor": dataclasses.asdict(config),
                "lr": float(lr),
                "weight_decay": float(weight_decay),
                "warmup_fraction": float(warmup_fraction),
                "min_lr_ratio": float(min_lr_ratio),
            }
        )
        self.config = config
        self.model = TrajectoryPredictor(config)
        self.val_metrics = torch.nn.ModuleDict({"k6": AV2Metrics(k=config.num_modes), "k1": AV2Metrics(k=1)})
        self.test_metrics = torch.nn.ModuleDict({"k6": AV2Metrics(k=config.num_modes), "k1": AV2Metrics(k=1)})

    def forward(self, batch: SceneBatch) -> Prediction:
        return self.model(batch)

    # -- training ------------------------------------------------------------------------------------
    def _where(self, batch: SceneBatch, batch_idx: int) -> str:
        return (
            f"epoch {self.current_epoch}, global step {self.global_step}, batch {batch_idx}, "
            f"scenarios {batch.scenario_ids}"
        )

    def training_step(self, batch: SceneBatch, batch_idx: int) -> torch.Tensor:
        losses = prediction_loss(self.model(batch), batch, likelihood=self.config.likelihood)
        loss = losses["loss"]
        if not torch.isfinite(loss):
            # Stop before the optimiser step: the weights (and every checkpoint) stay as they were.
            raise NonFiniteLossError(
                f"non-finite training loss ({loss.item()}) at {self._where(batch, batch_idx)}"
            )
        self._last_where = self._where(batch, batch_idx)
        size = batch.num_scenes
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log_dict({f"train/{k}": v for k, v in losses.items() if k != "loss"}, batch_size=size)
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if grads and not torch.isfinite(torch.stack([g.detach().abs().amax() for g in grads])).all():
            raise NonFiniteLossError(f"non-finite gradient at {getattr(self, '_last_where', 'unknown step')}")

    def configure_optimizers(self):
        decay, no_decay = [], []
        for name, param in self.model.named_parameters():
            (no_decay if param.ndim < 2 or "norm" in name else decay).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.hparams.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=self.hparams.lr,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(self.hparams.warmup_fraction * total)
        min_ratio = self.hparams.min_lr_ratio
        schedule = LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total, min_ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    # -- evaluation ----------------------------------------------------------------------------------
    def rows(self, batch: SceneBatch) -> tuple[dict[str, torch.Tensor], TargetRows]:
        pred = self.model(batch)
        losses = prediction_loss(pred, batch, likelihood=self.config.likelihood)
        trajectory, probability = prediction_to_world(pred, batch)
        return losses, target_rows(trajectory, probability, batch)

    def _evaluate(self, batch: SceneBatch, stage: str, metrics: torch.nn.ModuleDict) -> None:
        losses, rows = self.rows(batch)
        for metric in metrics.values():
            metric.update(rows.trajectory.float(), rows.probability.float(), rows.target, rows.target_valid)
        self.log(
            f"{stage}/loss",
            losses["loss"],
            prog_bar=stage == "val",
            batch_size=batch.num_scenes,
            sync_dist=True,
        )

    def _log_metrics(self, stage: str, metrics: torch.nn.ModuleDict) -> None:
        values = {}
        for metric in metrics.values():
            values.update({f"{stage}/{k}": v.float() for k, v in metric.compute().items()})
            metric.reset()
        k = self.config.num_modes
        # Short aliases of the K-mode errors: the progress bar and the best-checkpoint monitor use them.
        self.log_dict(
            {
                f"{stage}/minADE": values[f"{stage}/minADE_{k}"],
                f"{stage}/minFDE": values[f"{stage}/minFDE_{k}"],
            },
            prog_bar=True,
        )
        self.log_dict(values)

    def validation_step(self, batch: SceneBatch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_metrics)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val", self.val_metrics)

    def test_step(self, batch: SceneBatch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test", self.test_metrics)

    def predict_step(self, batch: SceneBatch, batch_idx: int) -> tuple[SceneBatch, TargetRows]:
        return batch, self.rows(batch)[1]

    # -- checkpoints ---------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[META_KEY] = checkpoint_meta()
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "window"):
            checkpoint["drive_data"] = datamodule.window()
        # The RNG state lets a resumed run draw the same dropout masks as an uninterrupted one.
        checkpoint["drive_rng"] = {"torch": torch.get_rng_state()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_meta(checkpoint, "checkpoint")
        stored = checkpoint.get(self.CHECKPOINT_HYPER_PARAMS_KEY, {}).get("predictor") or {}
        current = dataclasses.asdict(self.config)
        # Fields added to PredictorConfig after the checkpoint was written default to the old behaviour.
        diff = sorted(k for k in set(stored) & set(current) if stored[k] != current[k])
        if diff:
            raise CheckpointError(
                "checkpoint was trained with a different model configuration: "
                + ", ".join(f"{k}={stored.get(k)!r} (configured: {current.get(k)!r})" for k in diff)
            )
        rng = checkpoint.get("drive_rng")
        if rng is not None and self._trainer is not None and self.trainer.state.fn == "fit":
            torch.set_rng_state(rng["torch"])


def load_module(path: str) -> tuple[TrajectoryModule, dict[str, int]]:
    """A trained module (in eval mode, on CPU) from a checkpoint read with ``weights_only=True``, and
    the data window it was trained on (``num_history_steps``, ``num_future_steps``, ...; empty when the
    checkpoint does not record it)."""
    checkpoint = read_checkpoint(path)
    hparams = checkpoint.get(TrajectoryModule.CHECKPOINT_HYPER_PARAMS_KEY)
    if not isinstance(hparams, dict) or "predictor" not in hparams:
        raise CheckpointError(f"{path}: checkpoint has no model hyperparameters")
    try:
        module = TrajectoryModule(**hparams)
    except (ConfigError, TypeError) as err:
        raise CheckpointError(f"{path}: stored hyperparameters do not fit this version: {err}") from err
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"{path}: weights do not fit the stored model configuration: {err}") from err
    return module.eval(), dict(checkpoint.get("drive_data", {}))

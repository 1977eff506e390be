"""Callbacks the command line always installs."""

from __future__ import annotations

import os
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

from drive.errors import ConfigError
from drive.training.sampling import ResumableDataLoader

LAST_NAME = "last.ckpt"


class LastCheckpoint(pl.Callback):
    """Keeps ``last.ckpt`` (next to the best checkpoints) at the point training reached, so
    ``--ckpt_path last`` continues an interrupted run where it stopped.

    Saved at the end of every epoch, every ``every_n_train_steps`` optimiser steps (when set), and
    on Ctrl-C (KeyboardInterrupt). Each save goes to a temporary file first and replaces
    ``last.ckpt`` atomically. Other exceptions (a non-finite loss, a crash) save nothing, so the last
    good checkpoint stays as it was.
    """

    def __init__(self, every_n_train_steps: int | None = None) -> None:
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ConfigError(f"last_checkpoint.every_n_train_steps = {every_n_train_steps!r}: must be >= 1")
        self.every_n_train_steps = every_n_train_steps

    @staticmethod
    def path(trainer: pl.Trainer) -> Path | None:
        checkpoint = next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)), None)
        return (
            None if checkpoint is None or checkpoint.dirpath is None else Path(checkpoint.dirpath) / LAST_NAME
        )

    def save(self, trainer: pl.Trainer) -> Path | None:
        path = self.path(trainer)
        if path is None or trainer.sanity_checking:
            return None
        tmp = path.with_name(f".{path.name}.tmp")
        trainer.save_checkpoint(tmp, weights_only=False)  # the full training state, to resume
        if trainer.is_global_zero:
            os.replace(tmp, path)
        return path

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step = trainer.global_step
        if self.every_n_train_steps and step > 0 and step % self.every_n_train_steps == 0:
            self.save(trainer)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning restores a stateful train loader only when it builds the loader after the checkpoint
        # was read; `estimated_stepping_batches` (the LR schedule) builds it earlier, so the saved position
        # would be dropped. No batch has been drawn yet here: apply the position now.
        loop = trainer.fit_loop
        if loop.restarting and getattr(loop, "_combined_loader_states_to_load", None):
            loop._load_combined_loader_states()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if (
            not isinstance(exception, KeyboardInterrupt)
            or trainer.state.fn != "fit"
            or trainer.global_step == 0
        ):
            return
        # The interrupted batch was fetched but not trained on: record only the batches whose step ran.
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        loader = trainer.fit_loop._combined_loader
        for flat in loader.flattened if loader is not None else ():
            if isinstance(flat, ResumableDataLoader):
                flat._yielded = done
        path = self.save(trainer)
        if path is not None:
            print(
                f"\ninterrupted at epoch {trainer.current_epoch}, step {trainer.global_step}; saved {path} "
                "(resume with --ckpt_path last)"
            )

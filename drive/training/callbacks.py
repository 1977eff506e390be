"""Callbacks the command line always installs."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

from drive.training.sampling import ResumableDataLoader


class InterruptCheckpoint(pl.Callback):
    """On Ctrl-C (KeyboardInterrupt) during fitting, save ``last.ckpt`` where the run stopped, so
    ``--ckpt_path last`` continues from that step. Other exceptions (a non-finite loss, a crash) save
    nothing: the last good checkpoint stays as it was."""

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, KeyboardInterrupt) or trainer.state.fn != "fit":
            return
        checkpoint = next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)), None)
        if checkpoint is None or checkpoint.dirpath is None or trainer.global_step == 0:
            return
        # The interrupted batch was fetched but not trained on: record only the batches whose step ran.
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        loader = trainer.fit_loop._combined_loader
        for flat in loader.flattened if loader is not None else ():
            if isinstance(flat, ResumableDataLoader):
                flat._yielded = done
        path = Path(checkpoint.dirpath) / f"{checkpoint.CHECKPOINT_NAME_LAST}{checkpoint.FILE_EXTENSION}"
        trainer.save_checkpoint(path)
        print(
            f"\ninterrupted at epoch {trainer.current_epoch}, step {trainer.global_step}; saved {path} "
            "(resume with --ckpt_path last)"
        )

"""``drive fit | validate | test`` on LightningCLI, configured by stacked YAML files in ``configs/``.

Every run gets one directory ``<trainer.default_root_dir>/version_<n>/`` holding the resolved
``config.yaml``, CSV metrics, TensorBoard events (``tensorboard/``) and ``checkpoints/`` (the best by
``val/minFDE`` and ``last.ckpt``). ``--ckpt_path last`` resumes the latest run in that directory.
"""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

from pytorch_lightning import Trainer
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from drive.errors import ConfigError
from drive.training.callbacks import LastCheckpoint
from drive.training.datamodule import ScenarioDataModule
from drive.training.module import TrajectoryModule

DEFAULT_ROOT_DIR = "runs"
VERSION_PATTERN = re.compile(r"version_(\d+)$")


def run_versions(root: Path) -> list[int]:
    if not root.is_dir():
        return []
    return sorted(
        int(m.group(1)) for p in root.iterdir() if p.is_dir() and (m := VERSION_PATTERN.match(p.name))
    )


def run_version(root: Path, resume_last: bool) -> int:
    """The latest run holding ``checkpoints/last.ckpt`` when resuming, else the next free number."""
    versions = run_versions(root)
    if resume_last:
        for version in reversed(versions):
            if (root / f"version_{version}" / "checkpoints" / "last.ckpt").is_file():
                return version
    return versions[-1] + 1 if versions else 0


class DriveCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # History/future lengths are set once, in the data section, and shared with the model.
        parser.link_arguments("data.init_args.num_future_steps", "model.predictor.num_future_steps")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/minFDE",
                "checkpoint.mode": "min",
                # last.ckpt belongs to LastCheckpoint: every epoch, not only when the best improves.
                "checkpoint.save_last": False,
                "checkpoint.save_top_k": 1,
                "checkpoint.filename": "best-epoch{epoch:03d}-step{step}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )

    def _instantiate_trainer(self, config: dict, callbacks: list) -> Trainer:
        if config.get("logger") in (None, True):
            root = Path(config.get("default_root_dir") or DEFAULT_ROOT_DIR)
            ckpt_path = self.config[self.subcommand].get("ckpt_path") if self.subcommand else None
            version = f"version_{run_version(root, resume_last=ckpt_path == 'last')}"
            config["logger"] = [
                CSVLogger(save_dir=root, name="", version=version),
                TensorBoardLogger(
                    save_dir=root, name="", version=version, sub_dir="tensorboard", default_hp_metric=False
                ),
            ]
        return super()._instantiate_trainer(config, callbacks)


def run_cli(command: str, argv: list[str]) -> DriveCLI:
    """Run LightningCLI subcommand ``command`` with ``argv``; a bad option or config key raises
    :class:`ConfigError` naming it."""
    with warnings.catch_warnings():
        # `drive fit ...` passes its own argv on purpose; Lightning warns when sys.argv is also set.
        warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python")
        try:
            return DriveCLI(
                TrajectoryModule,
                ScenarioDataModule,
                subclass_mode_data=True,
                # --ckpt_path files are read with torch.load(weights_only=True): plain data only.
                args=[command, "--weights_only", "true", *argv],
                trainer_defaults={"default_root_dir": DEFAULT_ROOT_DIR, "use_distributed_sampler": False},
                save_config_kwargs={"overwrite": True},
                parser_kwargs={"exit_on_error": False},
            )
        except argparse.ArgumentError as err:
            raise ConfigError(f"invalid configuration: {err}") from err

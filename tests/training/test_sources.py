"""Every data source trains through the same module: `Trainer(fast_dev_run=True)` on real samples, and
every shipped config parses."""

from pathlib import Path

import pytest
import pytorch_lightning as pl

from drive.errors import ConfigError, DataError
from drive.training.cli import run_cli
from drive.training.sources import Av2DataModule, EthUcyDataModule, WomdDataModule
from tests.conftest import REPO_ROOT, shared_path
from tests.training.helpers import tiny_module

CONFIGS = REPO_ROOT / "configs"


def _fast_dev_run(data, tmp_path: Path) -> pl.Trainer:
    trainer = pl.Trainer(
        fast_dev_run=True,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    module = tiny_module(num_future_steps=data.num_future_steps)
    trainer.fit(module, datamodule=data)
    assert trainer.state.finished and trainer.global_step == 1
    return trainer


def test_womd_sample_trains(tmp_path):
    path = shared_path("womd", "motion_data_one_scenario.tfrecord")
    _fast_dev_run(WomdDataModule(train_path=str(path), val_path=str(path), batch_size=1), tmp_path)


def test_av2_sample_trains(tmp_path):
    path = shared_path("av2", "forecasting_scenarios")
    data = Av2DataModule(train_path=str(path), val_path=str(path), batch_size=1, rotate_augmentation=True)
    _fast_dev_run(data, tmp_path)
    assert data.scenes["train"][0].source == "av2"


def test_eth_ucy_leave_one_out_trains(tmp_path):
    root = shared_path("eth_ucy")
    data = EthUcyDataModule(root=str(root), scene="hotel", batch_size=4, max_scenes=16)
    _fast_dev_run(data, tmp_path)
    assert all(not s.extras["file"].startswith("biwi_hotel") for s in data.scenes["train"])  # held out


def test_missing_path_and_unknown_scene_are_clear(tmp_path):
    data = WomdDataModule(train_path=str(tmp_path / "nowhere.tfrecord"))
    with pytest.raises(DataError, match="nowhere.tfrecord"):
        data.setup("fit")
    with pytest.raises(ConfigError, match="'atlantis'"):
        EthUcyDataModule(root=str(tmp_path), scene="atlantis")


@pytest.mark.parametrize("data", sorted(p.name for p in (CONFIGS / "data").glob("*.yaml")))
def test_every_data_config_parses(data, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(
            "fit",
            [
                "-c",
                str(CONFIGS / "data" / data),
                "-c",
                str(CONFIGS / "model" / "drope_rope.yaml"),
                "-c",
                str(CONFIGS / "trainer" / "cpu.yaml"),
                "--print_config",
            ],
        )
    assert exit_info.value.code == 0
    assert "num_future_steps" in capsys.readouterr().out


@pytest.mark.parametrize("model", sorted(p.name for p in (CONFIGS / "model").glob("*.yaml")))
def test_every_model_config_parses(model, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(
            "fit",
            [
                "-c",
                str(CONFIGS / "data" / "sim.yaml"),
                "-c",
                str(CONFIGS / "model" / model),
                "-c",
                str(CONFIGS / "trainer" / "gpu.yaml"),
                "--print_config",
            ],
        )
    assert exit_info.value.code == 0
    assert f"encoding: {model.removesuffix('.yaml')}" in capsys.readouterr().out


def test_empty_split_names_the_split():
    from tests.training.scenes import SyntheticDataModule

    with pytest.raises(DataError, match="empty split 'val'"):
        SyntheticDataModule(num_train=2, num_val=0).setup("fit")

"""`drive fit / validate / test` through the real command line, on generated scenes."""

import signal
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from drive.cli import main

DATA = """
seed_everything: 7
data:
  class_path: tests.training.scenes.SyntheticDataModule
  init_args: {num_train: 10, num_val: 2, num_test: 2, batch_size: 2, rotate_augmentation: true}
model:
  predictor: {hidden_dim: 32, num_heads: 2, num_temporal_layers: 1, num_interaction_layers: 1,
              xy_slots: 2, heading_slots: 2, num_modes: 3, dropout: 0.1}
trainer:
  max_epochs: 2
  accelerator: cpu
  enable_progress_bar: false
  enable_model_summary: false
  num_sanity_val_steps: 0
"""


class InterruptAt(pl.Callback):
    """Simulates Ctrl-C just before training batch ``step`` (a global step) starts."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(DATA)
    return path


def _fit(config: Path, root: Path, *extra: str) -> int:
    return main(["fit", "-c", str(config), "--trainer.default_root_dir", str(root), *extra])


def _last(root: Path, version: int = 0) -> dict:
    return torch.load(root / f"version_{version}" / "checkpoints" / "last.ckpt", weights_only=True)


def _same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


def test_wrong_config_key_is_named(config, tmp_path, capsys):
    assert _fit(config, tmp_path, "--model.predictor.hiden_dim", "8") == 1
    assert "hiden_dim" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  lr_rate: 0.1\n")
    assert _fit(config, tmp_path, "-c", str(bad)) == 1
    assert "lr_rate" in capsys.readouterr().err


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    config = root / "config.yaml"
    config.write_text(DATA)
    assert _fit(config, root) == 0
    return config, root


def test_run_saves_config_logs_and_checkpoints(uninterrupted):
    _, root = uninterrupted
    run = root / "version_0"
    assert (run / "config.yaml").is_file() and "SyntheticDataModule" in (run / "config.yaml").read_text()
    assert "val/minFDE_3" in (run / "metrics.csv").read_text().splitlines()[0]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert [p.name for p in (run / "checkpoints").glob("best-*.ckpt")]
    checkpoint = _last(root)
    assert (
        checkpoint["global_step"] == 10
        and checkpoint["hyper_parameters"]["predictor"]["num_future_steps"] == 12
    )


def test_same_seed_repeats_the_run(uninterrupted, tmp_path):
    config, root = uninterrupted
    assert _fit(config, tmp_path) == 0
    _same_weights(_last(tmp_path)["state_dict"], _last(root)["state_dict"])
    assert _fit(config, tmp_path / "other", "--seed_everything", "8") == 0
    key = "model.encoder.agent_mlp.net.0.weight"
    assert not torch.equal(_last(tmp_path / "other")["state_dict"][key], _last(root)["state_dict"][key])


def test_interrupted_run_resumes_where_it_stopped(uninterrupted, tmp_path):
    config, root = uninterrupted
    stop = tmp_path / "stop.yaml"
    stop.write_text(
        "trainer:\n  callbacks:\n    - class_path: tests.commands.test_lightning.InterruptAt\n"
        "      init_args: {step: 7}\n"
    )
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):
            _fit(config, tmp_path, "-c", str(stop))  # epoch 1, batch 2 of 5
    finally:
        signal.signal(signal.SIGINT, handler)  # Lightning ignores Ctrl-C after an interrupt
    interrupted = _last(tmp_path)
    assert interrupted["global_step"] == 7 and interrupted["epoch"] == 1
    assert _fit(config, tmp_path, "--ckpt_path", "last") == 0
    assert not (tmp_path / "version_1").exists()  # resumed into the same run directory
    resumed, reference = _last(tmp_path), _last(root)
    assert resumed["global_step"] == reference["global_step"] == 10
    _same_weights(resumed["state_dict"], reference["state_dict"])


def test_validate_and_test_read_a_checkpoint(uninterrupted, tmp_path, capsys):
    config, root = uninterrupted
    ckpt = root / "version_0" / "checkpoints" / "last.ckpt"
    for command in ("validate", "test"):
        code = main(
            [
                command,
                "-c",
                str(config),
                "--trainer.default_root_dir",
                str(tmp_path),
                "--ckpt_path",
                str(ckpt),
            ]
        )
        assert code == 0
    assert "test/minADE_3" in capsys.readouterr().out

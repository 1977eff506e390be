import hashlib
import math
import pickle

import pytest
import pytorch_lightning as pl
import torch

from drive.errors import CheckpointError, ConfigError
from drive.training import module as module_lib
from drive.training.checkpoint import META_KEY, read_checkpoint
from drive.training.module import NonFiniteLossError, load_module, predictor_config, warmup_cosine
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer


def test_schedule_warms_up_linearly_then_follows_a_cosine():
    assert warmup_cosine(0, 10, 110, 0.0) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 110, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(10, 10, 110, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(60, 10, 110, 0.2) == pytest.approx(0.2 + 0.8 * 0.5)
    assert warmup_cosine(85, 10, 110, 0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.75)))
    assert warmup_cosine(110, 10, 110, 0.1) == pytest.approx(0.1)


def test_unknown_model_key_is_named():
    with pytest.raises(ConfigError, match="hiden_dim"):
        predictor_config({"hiden_dim": 32})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit")
    pl.seed_everything(0, verbose=False)
    module, data = tiny_module(), tiny_data()
    tiny_trainer(root).fit(module, datamodule=data)
    return root / "checkpoints" / "last.ckpt", module, data


def test_checkpoint_is_plain_data_and_reloads_the_same_model(trained):
    path, module, data = trained
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert checkpoint[META_KEY]["model_class"] == "drive.models.TrajectoryPredictor"
    assert checkpoint["drive_data"]["num_history_steps"] == data.num_history_steps
    loaded, window = load_module(path)
    assert window == data.window()
    batch = next(iter(data.val_dataloader()))
    module.eval()
    with torch.no_grad():
        expected, got = module(batch), loaded(batch)
    torch.testing.assert_close(got.trajectory, expected.trajectory)
    torch.testing.assert_close(got.logits, expected.logits)


def _variant(tmp_path, source, change):
    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    change(checkpoint)
    path = tmp_path / "variant.ckpt"
    torch.save(checkpoint, path)
    return path


def test_checkpoint_of_another_model_is_refused(trained, tmp_path):
    path = _variant(tmp_path, trained[0], lambda c: c[META_KEY].update(model_class="other.Net"))
    with pytest.raises(CheckpointError, match="other.Net"):
        load_module(path)


def test_checkpoint_of_an_older_schema_is_refused(trained, tmp_path):
    path = _variant(tmp_path, trained[0], lambda c: c[META_KEY].update(schema_version=0))
    with pytest.raises(CheckpointError, match="schema version 0"):
        load_module(path)
    path = _variant(tmp_path, trained[0], lambda c: c.pop(META_KEY))
    with pytest.raises(CheckpointError, match="not a drive training checkpoint"):
        read_checkpoint(path)


class _Payload:
    pass


def test_checkpoint_with_pickled_objects_is_refused(trained, tmp_path):
    path = _variant(tmp_path, trained[0], lambda c: c.update(extra=_Payload()))
    with pytest.raises(CheckpointError, match="not plain data"):
        read_checkpoint(path)
    assert isinstance(pickle.dumps(_Payload()), bytes)


def test_resuming_with_another_model_configuration_is_refused(trained, tmp_path):
    trainer = tiny_trainer(tmp_path, max_epochs=2)
    with pytest.raises(CheckpointError, match="hidden_dim=32"):
        trainer.fit(tiny_module(hidden_dim=64), datamodule=tiny_data(), ckpt_path=trained[0])


def test_nan_loss_stops_with_where_and_keeps_the_last_good_checkpoint(trained, tmp_path, monkeypatch):
    source = trained[0]
    root = tmp_path / "run"
    (root / "checkpoints").mkdir(parents=True)
    last = root / "checkpoints" / "last.ckpt"
    last.write_bytes(source.read_bytes())
    digest = hashlib.sha256(last.read_bytes()).hexdigest()
    real_loss, calls = module_lib.prediction_loss, []

    def poisoned(pred, batch, likelihood="laplace"):
        calls.append(batch.scenario_ids)
        losses = real_loss(pred, batch, likelihood)
        if len(calls) == 2:  # the second training batch after resuming
            losses["loss"] = losses["loss"] * float("nan")
        return losses

    monkeypatch.setattr(module_lib, "prediction_loss", poisoned)
    # A checkpoint every step: a NaN step must still write nothing.
    trainer = tiny_trainer(root, every_n_train_steps=1, monitor=None, max_epochs=2, limit_val_batches=0)
    with pytest.raises(NonFiniteLossError) as info:
        trainer.fit(tiny_module(), datamodule=tiny_data(), ckpt_path=last)
    message = str(info.value)
    assert "epoch 1, global step 5, batch 1" in message and str(calls[1]) in message
    assert hashlib.sha256(last.read_bytes()).hexdigest() != digest  # step 5 saved (good) ...
    good = torch.load(last, map_location="cpu", weights_only=True)
    assert good["global_step"] == 5  # ... but not the NaN step
    assert all(torch.isfinite(v).all() for v in good["state_dict"].values() if v.is_floating_point())

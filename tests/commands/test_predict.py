"""`drive predict`: a trained checkpoint's predictions, in the dataset frame, in each output format."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from drive.cli import main
from drive.data.batch import collate_scenarios
from drive.datasets.womd import write_scenarios
from drive.evaluation import load_predictions
from drive.geometry.se2 import to_local
from drive.training.scenes import crop_scenario
from tests.training.helpers import tiny_data, tiny_module, tiny_trainer
from tests.training.scenes import make_scenario

HISTORY, FUTURE = 11, 80  # the WOMD layout, so a WOMD submission can be written


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    pl.seed_everything(0, verbose=False)
    data = tiny_data(num_train=4, num_val=2, num_history_steps=HISTORY, num_future_steps=FUTURE)
    module = tiny_module(num_future_steps=FUTURE)
    tiny_trainer(root).fit(module, datamodule=data)
    scenes = [make_scenario(50 + i, num_steps=HISTORY + FUTURE, current_step=HISTORY - 1) for i in range(3)]
    records = root / "scenes.tfrecord"
    write_scenarios(records, scenes)
    return root / "checkpoints" / "last.ckpt", records, scenes, module.eval()


def test_predictions_are_the_models_output_in_the_dataset_frame(setup, tmp_path, capsys):
    ckpt, records, scenes, module = setup
    out = tmp_path / "predictions.npz"
    assert main(["predict", "--data", str(records), "--ckpt", str(ckpt), "--out", str(out)]) == 0
    assert "3 scenario(s)" in capsys.readouterr().out
    predictions = {p.scenario_id: p for p in load_predictions(out)}
    assert sorted(predictions) == sorted(s.scenario_id for s in scenes)
    batch = collate_scenarios([crop_scenario(s, HISTORY, FUTURE) for s in scenes])
    with torch.no_grad():
        local = module(batch).trajectory  # (B, A, K, Tf, 2) in each agent's frame
    for b, scene in enumerate(scenes):
        p = predictions[scene.scenario_id]
        np.testing.assert_array_equal(p.agent_ids, scene.agents.ids[scene.target_idx])
        assert p.trajectory.shape == (len(scene.target_idx), 3, FUTURE, 2)
        np.testing.assert_allclose(p.probability.sum(-1), 1.0, atol=1e-5)
        # Back in each agent's frame, the file holds exactly what the model predicted.
        now = HISTORY - 1
        pos = torch.from_numpy(scene.agents.position[scene.target_idx, now])[:, None, None]
        heading = torch.from_numpy(scene.agents.heading[scene.target_idx, now])[:, None, None]
        back = to_local(torch.from_numpy(p.trajectory), pos, heading)
        torch.testing.assert_close(back, local[b, scene.target_idx], atol=1e-3, rtol=1e-4)


def test_womd_submission_by_suffix(setup, tmp_path):
    ckpt, records, scenes, _ = setup
    out = tmp_path / "submission.tar.gz"
    assert main(["predict", "--data", str(records), "--ckpt", str(ckpt), "--out", str(out)]) == 0
    loaded = load_predictions(out)
    assert len(loaded) == len(scenes) and loaded[0].num_future_steps == 16  # 2 Hz samples of 8 s


def test_bad_output_suffix_and_bad_checkpoint_are_one_line_errors(setup, tmp_path, capsys):
    ckpt, records, _, _ = setup
    assert (
        main(["predict", "--data", str(records), "--ckpt", str(ckpt), "--out", str(tmp_path / "x.csv")]) == 1
    )
    assert "unknown format" in capsys.readouterr().err
    fake = tmp_path / "fake.ckpt"
    torch.save({"state_dict": {}}, fake)
    assert (
        main(["predict", "--data", str(records), "--ckpt", str(fake), "--out", str(tmp_path / "x.npz")]) == 1
    )
    assert "not a drive training checkpoint" in capsys.readouterr().err

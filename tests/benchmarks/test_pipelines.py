"""Tiny runs of the ablation and ETH/UCY code paths: determinism, aggregation, invariance, no leaks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from drive.benchmarks import synthetic_scene
from drive.benchmarks.ablation import METRIC_KEYS, baseline_row, fan_row, moved_scenes, run_encoding
from drive.benchmarks.eth_ucy import SELECTIONS, VIEWS, run_scene, select_samples
from drive.benchmarks.stats import mean_std
from drive.benchmarks.training import TrainSettings, augment, predict, prepare_scenes, train_predictor
from drive.data.batch import collate_scenarios
from drive.errors import ConfigError
from drive.models import PredictorConfig, TrajectoryPredictor

TINY = PredictorConfig(
    num_future_steps=80,
    hidden_dim=16,
    num_heads=2,
    num_temporal_layers=1,
    num_interaction_layers=1,
    refine=False,
    xy_slots=2,
    heading_slots=2,
    se2_pose_blocks=1,
    se2_rotation_pairs=1,
    dropout=0.0,
)


@pytest.fixture(scope="module")
def scenes():
    return prepare_scenes([synthetic_scene(4, 3, seed=s) for s in range(6)], 11, 80)


def test_training_is_seeded(scenes):
    settings = TrainSettings(steps=2, batch_size=2)
    a, info_a = train_predictor(TINY, scenes, settings)
    b, info_b = train_predictor(TINY, scenes, settings)
    c, _ = train_predictor(TINY, scenes, dataclasses.replace(settings, seed=1))
    assert info_a["final_loss"] == info_b["final_loss"]
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_augmentations_draw_only_when_on(scenes):
    """Turning reflection or scaling on leaves the rotation angles (and the rng after a plain run) as
    they were, so runs without them reproduce earlier runs exactly."""
    rotate = TrainSettings(rotate_augmentation=True)
    plain = augment(list(scenes), rotate, np.random.default_rng(3))
    every = augment(
        list(scenes),
        dataclasses.replace(rotate, mirror_augmentation=True, scale_augmentation=0.2),
        np.random.default_rng(3),
    )
    for p, e in zip(plain, every):
        valid = p.agents.valid
        # Reflection and scaling about the origin keep |position| up to the scale factor, and the
        # heading up to sign: the rotation that came first is the same draw.
        ratio = np.linalg.norm(e.agents.position[valid], axis=-1) / np.linalg.norm(
            p.agents.position[valid], axis=-1
        )
        assert np.all((ratio > 0.8 - 1e-6) & (ratio < 1.2 + 1e-6)) and np.ptp(ratio) < 1e-4
        same = np.allclose(e.agents.heading[valid], p.agents.heading[valid], atol=1e-5)
        flipped = np.allclose(
            np.angle(np.exp(1j * (e.agents.heading[valid] + p.agents.heading[valid]))), 0, atol=1e-5
        )
        assert same or flipped
    assert augment(list(scenes), TrainSettings(), np.random.default_rng(0)) == list(scenes)


def test_mirror_augmentation_reflects_about_half_the_scenes(scenes):
    settings = TrainSettings(mirror_augmentation=True)
    out = augment(list(scenes) * 50, settings, np.random.default_rng(0))
    reflected = [
        not np.array_equal(o.agents.position, s.agents.position) for o, s in zip(out, list(scenes) * 50)
    ]
    assert 0.35 < np.mean(reflected) < 0.65


@pytest.mark.parametrize("spread", [-0.1, 1.0])
def test_scale_augmentation_outside_its_range_is_refused(spread):
    with pytest.raises(ConfigError, match="scale_augmentation"):
        TrainSettings(scale_augmentation=spread)


def test_ablation_rows_aggregate_seeds(scenes):
    moved = moved_scenes(scenes[:3])
    row = run_encoding(
        "se2",
        TINY,
        scenes,
        scenes[:3],
        moved,
        TrainSettings(steps=1, batch_size=2),
        [0, 1],
        log=lambda _: None,
    )
    assert [r["seed"] for r in row["runs"]] == [0, 1]
    for key in METRIC_KEYS:
        assert row["test"][key] == pytest.approx(mean_std(r["test"][key] for r in row["runs"]))
        # se2 attention is SE(2)-invariant and the decoder works in each agent's frame: a rigid motion of
        # the scene changes no metric beyond float32 rounding.
        for run in row["runs"]:
            assert run["moved"][key] == pytest.approx(run["test"][key], rel=1e-3, abs=1e-3)
    cv = baseline_row(scenes[:3], moved, 80)
    # The synthetic agents drive at constant velocity: the baseline is exact, before and after the motion.
    assert cv["test"]["minFDE_6"] == pytest.approx(0.0, abs=1e-3)
    assert cv["moved"]["minFDE_6"] == pytest.approx(0.0, abs=1e-3)
    # The fan's lines all leave the straight path (no mode at angle 0 and speed 1 for K = 6), the same
    # amount before and after the motion.
    fan = fan_row(scenes[:3], moved, 80, TINY)
    assert fan["test"]["minFDE_6"] > 1.0
    assert fan["moved"]["minFDE_6"] == pytest.approx(fan["test"]["minFDE_6"], rel=1e-3)


def test_predictions_never_read_the_future(scenes):
    """Changing every future position, velocity and heading changes no prediction."""
    model = TrajectoryPredictor(dataclasses.replace(TINY, encoding="drope_rope")).eval()
    scene = scenes[0]
    agents = scene.agents
    future = np.arange(agents.num_steps) > scene.current_step
    noise = np.random.default_rng(0).normal(size=agents.position.shape).astype(np.float32)
    changed = dataclasses.replace(
        agents,
        position=np.where(future[None, :, None], agents.position + 50 * noise, agents.position),
        velocity=np.where(future[None, :, None], -agents.velocity, agents.velocity),
        heading=np.where(future[None], 0.0, agents.heading).astype(np.float32),
    )
    other = dataclasses.replace(scene, agents=changed)
    with torch.no_grad():
        a, b = model(collate_scenarios([scene])), model(collate_scenarios([other]))
    torch.testing.assert_close(a.trajectory, b.trajectory)
    torch.testing.assert_close(a.logits, b.logits)
    pa, pb = predict(model, [scene])[0], predict(model, [other])[0]
    np.testing.assert_allclose(pa.trajectory, pb.trajectory, atol=1e-5)


def _write_eth_ucy(root, rng, val_frames: int = 40):
    """A tiny leave-one-out tree: two pedestrians walking straight, 40 frames per file (``val_frames`` in
    the val files)."""
    for scene in ("eth", "hotel"):
        for split in ("train", "val", "test"):
            folder = root / scene / split
            folder.mkdir(parents=True)
            lines = []
            for frame in range(0, 10 * (val_frames if split == "val" else 40), 10):
                for ped, (x0, vx) in enumerate(((0.0, 1.2), (5.0, -0.8))):
                    x = x0 + vx * 0.04 * frame + rng.normal(0, 0.001)
                    lines.append(f"{frame}\t{ped}\t{x:.3f}\t{ped * 2.0:.3f}")
            (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")


def test_eth_ucy_validation_scores_the_val_files(tmp_path):
    _write_eth_ucy(tmp_path, np.random.default_rng(1), val_frames=30)
    config = dataclasses.replace(TINY, num_future_steps=12)
    settings = TrainSettings(steps=1, batch_size=4)
    row = run_scene(str(tmp_path), "eth", config, settings, validate=True)
    assert row["num_val_windows"] == 11  # 30 frames - 20 + 1: the val files, not train or test (21)
    assert set(row["model_val"]) == {"ADE_20", "FDE_20"}
    assert "model_val" not in run_scene(str(tmp_path), "eth", config, settings, max_test=5)


def test_eth_ucy_path(tmp_path):
    _write_eth_ucy(tmp_path, np.random.default_rng(0))
    config = dataclasses.replace(TINY, num_future_steps=12)
    row = run_scene(str(tmp_path), "eth", config, TrainSettings(steps=2, batch_size=4), max_test=5)
    assert row["num_test_windows"] == 5 and row["num_train_windows"] == 21  # 40 frames - 20 + 1
    assert set(row["model"]) == {"ADE_20", "FDE_20"}
    assert row["model"]["ADE_20"] <= row["model"]["FDE_20"] + 1.0
    # Straight walkers with 1 mm noise: constant velocity ends within a few centimetres; the untrained
    # fan's 20 lines include speed factors near 1 at angle 0, so its best line is close too.
    assert row["constant_velocity"]["FDE_20"] < 0.05
    assert row["constant_velocity"]["FDE_20"] <= row["velocity_fan"]["FDE_20"] < 1.0


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_map_positions_back(scenes, name):
    transform, back = VIEWS[name]
    scene = scenes[0]
    valid = scene.agents.valid
    there = transform(scene).agents.position
    np.testing.assert_allclose(back(there)[valid], scene.agents.position[valid], atol=1e-4)


def test_selections_on_one_model(tmp_path):
    _write_eth_ucy(tmp_path, np.random.default_rng(2))
    config = dataclasses.replace(TINY, num_future_steps=12, num_modes=30)
    settings = TrainSettings(steps=2, batch_size=4)
    row = run_scene(
        str(tmp_path),
        "eth",
        config,
        settings,
        max_test=5,
        validate=True,
        selection="cluster_mirror",
        compare_selections=True,
    )
    assert set(row["selections"]) == set(SELECTIONS)
    assert row["model"] == row["selections"]["cluster_mirror"]["test"]
    assert row["model_val"] == row["selections"]["cluster_mirror"]["val"]
    with pytest.raises(ConfigError, match="selection"):
        run_scene(str(tmp_path), "eth", config, settings, selection="best")


def test_pooling_identical_views_changes_nothing(scenes):
    # Two identical views clustered back to the model's K modes give the model's own forecasts.
    model = TrajectoryPredictor(dataclasses.replace(TINY, num_modes=20)).eval()
    one = predict(model, scenes[:2])
    top = select_samples([one], "top")
    pooled = select_samples([one, one], "cluster_mirror")
    for a, b in zip(top, pooled):
        np.testing.assert_allclose(a.trajectory, b.trajectory, atol=1e-5)
        np.testing.assert_allclose(a.probability, b.probability, atol=1e-6)


def test_saved_models_score_as_trained(tmp_path):
    data = tmp_path / "data"
    _write_eth_ucy(data, np.random.default_rng(3))
    config = dataclasses.replace(TINY, num_future_steps=12, num_modes=24)
    settings = TrainSettings(steps=2, batch_size=4)
    path = tmp_path / "eth.pt"
    trained = run_scene(str(data), "eth", config, settings, max_test=5, save_model_to=path)
    # Options of the loaded run other than the data are ignored: config and facts come from the file.
    loaded = run_scene(str(data), "eth", TINY, TrainSettings(steps=1), max_test=5, load_model_from=path)
    assert loaded["model"] == trained["model"]
    assert loaded["train_s"] == trained["train_s"]
    # An ensemble of one model twice pools identical forecasts, which cluster back to the model's own.
    twice = run_scene(
        str(data), "eth", TINY, settings, max_test=5, load_model_from=[path, path], selection="cluster"
    )
    single = run_scene(
        str(data), "eth", TINY, settings, max_test=5, load_model_from=path, selection="cluster"
    )
    assert twice["ensemble_size"] == 2 and twice["train_s"] == pytest.approx(2 * trained["train_s"])
    assert twice["model"] == pytest.approx(single["model"], abs=1e-5)
    with pytest.raises(ConfigError, match="no such model file"):
        run_scene(str(data), "eth", config, settings, max_test=5, load_model_from=tmp_path / "missing.pt")
    path.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="eth.pt"):
        run_scene(str(data), "eth", config, settings, max_test=5, load_model_from=path)

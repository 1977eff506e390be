"""`drive viz`: every output format from a dataset file, scene selection, views and user errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from drive.cli import main as cli_main
from drive.commands.viz import main
from drive.errors import ConfigError, DataError
from tests.conftest import shared_path


def eth_file(path: Path, num_frames: int = 22, num_peds: int = 3) -> Path:
    """An ETH/UCY-format text file (frame, pedestrian, x, y; frames 10 apart): pedestrians walking
    along x; 22 frames give three 20-step windows."""
    rows = [
        f"{10 * f}\t{p + 1}\t{0.4 * f + 2 * p:.2f}\t{1.5 * p:.2f}"
        for f in range(num_frames)
        for p in range(num_peds)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def data(tmp_path) -> Path:
    return eth_file(tmp_path / "walk.txt")


@pytest.mark.parametrize("suffix", [".png", ".svg", ".gif", ".mp4"])
def test_each_format_is_written(data, tmp_path, suffix, capsys):
    if suffix == ".mp4":
        pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / f"scene{suffix}"
    assert main([str(data), "--out", str(out), "--size", "200", "--max-frames", "5"]) == 0
    assert out.stat().st_size > 500
    assert f"wrote {out}" in capsys.readouterr().out


def test_png_shows_the_chosen_scene_and_agent(data, tmp_path, capsys):
    out = tmp_path / "a.png"
    assert main([str(data), "--out", str(out), "--scenario-id", "walk/10", "--agent", "2"]) == 0
    assert "3 agents" in capsys.readouterr().out
    pixels = iio.imread(out)
    assert pixels.shape[:2] == (800, 800) and pixels[..., :3].std() > 5


def test_gif_frame_count_follows_max_frames(data, tmp_path):
    out = tmp_path / "a.gif"
    assert main([str(data), "--out", str(out), "--max-frames", "7", "--size", "160"]) == 0
    assert len(iio.imread(out, index=None)) == 7


def test_html_run_lists_every_scene_with_evaluation_errors(data, tmp_path, capsys):
    evaluation = tmp_path / "eval.json"
    evaluation.write_text(json.dumps([{"scenario_id": "walk/0", "minADE": 0.3, "minFDE": 0.9}]))
    out = tmp_path / "run.html"
    assert main([str(data), "--out", str(out), "--evaluation", str(evaluation)]) == 0
    assert "3 scene(s)" in capsys.readouterr().out
    text = out.read_text()
    payload = json.loads(re.search(r'id="drive-data">(.*?)</script>', text, re.S).group(1))
    assert [s["id"] for s in payload["scenes"]] == ["walk/0", "walk/10", "walk/20"]
    assert payload["scenes"][0]["errors"] == {"minADE": 0.3, "minFDE": 0.9}
    single = tmp_path / "one.html"
    assert main([str(data), "--out", str(single), "--index", "2"]) == 0
    assert '"id":"walk/20"' in single.read_text() and '"id":"walk/0"' not in single.read_text()


def test_attention_weights_are_drawn_from_a_npy(data, tmp_path):
    weights = tmp_path / "attn.npy"
    np.save(weights, np.array([0.0, 0.7, 0.3]))
    assert main([str(data), "--out", str(tmp_path / "a.png"), "--attention", str(weights)]) == 0
    np.save(weights, np.ones(5))
    with pytest.raises(DataError, match="shape"):
        main([str(data), "--out", str(tmp_path / "b.png"), "--attention", str(weights)])


def test_user_errors_name_the_problem(data, tmp_path, capsys):
    with pytest.raises(ConfigError, match="suffix"):
        main([str(data), "--out", str(tmp_path / "a.jpg")])
    with pytest.raises(DataError, match="no scenario 'nope'"):
        main([str(data), "--out", str(tmp_path / "a.png"), "--scenario-id", "nope"])
    with pytest.raises(DataError, match="no agent with id"):
        main([str(data), "--out", str(tmp_path / "a.png"), "--agent", "99"])
    with pytest.raises(ConfigError, match="X,Y,HALF_WIDTH"):
        main([str(data), "--out", str(tmp_path / "a.png"), "--window", "1,2"])
    with pytest.raises(DataError, match="past the last"):
        main([str(data), "--out", str(tmp_path / "a.png"), "--index", "3"])
    # Through the top-level CLI a user error is one line and exit status 1.
    assert cli_main(["viz", str(data), "--out", str(tmp_path / "a.jpg")]) == 1
    assert "drive viz: error:" in capsys.readouterr().err


def test_bad_values_and_files_are_one_line_errors(data, tmp_path, capsys):
    out = str(tmp_path / "a.png")
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not an array")
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    text_npy = tmp_path / "text.npy"
    np.save(text_npy, np.array(["a", "b", "c"]))  # one entry per agent of a window, but not numbers
    cases = [
        ([str(data), "--out", out, "--size", "0"], "size_px: must be in 100..4000, got 0"),
        (
            [str(data), "--out", str(tmp_path / "a.gif"), "--size", "0"],
            "size_px: must be in 100..4000, got 0",
        ),
        ([str(data), "--out", out, "--attention", str(junk)], f"{junk}: cannot read attention weights"),
        ([str(data), "--out", out, "--attention", str(tmp_path / "no.npy")], "cannot read attention weights"),
        ([str(data), "--out", out, "--attention", str(text_npy)], "expected attention weights [A] or [H, A]"),
        ([str(data), "--out", str(tmp_path / "a.html"), "--max-scenes", "0"], "--max-scenes: must be >= 1"),
        ([str(empty), "--out", out], f"{empty}: holds no scenario"),
        ([str(empty), "--out", str(tmp_path / "a.html")], f"{empty}: holds no scenario"),
    ]
    for argv, message in cases:
        assert cli_main(["viz", *argv]) == 1, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert not list(tmp_path.glob("a.*"))


def test_skip_errors_draws_the_readable_scenes(tmp_path, capsys):
    from drive.datasets import womd
    from drive.datasets.tfrecord import iter_records, write_records

    (good,) = list(iter_records(shared_path("womd", "motion_data_one_scenario.tfrecord")))
    mixed = tmp_path / "mixed.tfrecord"
    write_records(mixed, [b"not a scenario", good, good[: len(good) // 2]])
    out = tmp_path / "run.html"
    # Without --skip-errors the first bad record stops the command with its position.
    assert cli_main(["viz", str(mixed), "--out", str(out)]) == 1
    assert "record 0" in capsys.readouterr().err and not out.exists()
    assert cli_main(["viz", str(mixed), "--out", str(out), "--skip-errors"]) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "(1 scene(s))" in captured.out
    assert "skipped 2" in captured.err and "record 0" in captured.err and "record 2" in captured.err
    scenario_id = next(womd.iter_scenarios(mixed, skip_errors=True)).scenario_id
    assert scenario_id in out.read_text()
    # Every record bad: the list of reasons, then a one-line error.
    bad = tmp_path / "bad.tfrecord"
    write_records(bad, [b"not a scenario"])
    assert cli_main(["viz", str(bad), "--out", str(tmp_path / "a.png"), "--skip-errors"]) == 1
    assert f"{bad}: holds no readable scenario" in capsys.readouterr().err


def test_predictions_file_is_drawn(data, tmp_path, capsys):
    predictions_io = pytest.importorskip("drive.evaluation.predictions", reason="predictions I/O not present")
    from drive.datasets import iter_scenarios

    scenario = next(iter(iter_scenarios(data)))
    first = scenario.current_step + 1
    truth = scenario.agents.position[scenario.target_idx, first:]  # (N, Tf, 2)
    trajectory = np.stack([truth, truth + 1.0], 1).astype(np.float32)  # (N, 2, Tf, 2)
    prediction = predictions_io.ScenarioPrediction(
        scenario_id=scenario.scenario_id,
        agent_ids=scenario.agents.ids[scenario.target_idx].astype(np.int64),
        trajectory=trajectory,
        probability=np.tile(np.array([[0.75, 0.25]], np.float32), (len(truth), 1)),
        heading=None,
    )
    path = tmp_path / "pred.npz"
    predictions_io.save_predictions(path, [prediction])
    out = tmp_path / "p.png"
    assert main([str(data), "--out", str(out), "--predictions", str(path)]) == 0
    assert f"{2 * len(truth)} predicted mode(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "parts",
    [
        ("womd", "motion_data_one_scenario.tfrecord"),
        ("av2", "forecasting_scenarios", "0a1e6f0a-1817-4a98-b02e-db8c9327d151"),
        ("eth_ucy", "eth", "test", "biwi_eth.txt"),
    ],
)
def test_real_samples_render(parts, tmp_path, capsys):
    path = shared_path(*parts)
    out = tmp_path / "real.png"
    assert main([str(path), "--out", str(out), "--size", "300"]) == 0
    drawn = int(re.search(r"\((\d+) agents", capsys.readouterr().out).group(1))
    assert drawn > 0 and iio.imread(out)[..., :3].std() > 5


def test_baseline_forecast_is_drawn_and_scored(data, tmp_path, capsys):
    assert main([str(data), "--out", str(tmp_path / "cv.png"), "--baseline", "constant_velocity"]) == 0
    assert "3 agents, 3 predicted mode(s)" in capsys.readouterr().out
    out = tmp_path / "cv.html"
    assert main([str(data), "--out", str(out), "--baseline", "constant_velocity"]) == 0
    payload = json.loads(re.search(r'id="drive-data">(.*?)</script>', out.read_text(), re.S).group(1))
    # The pedestrians walk at constant velocity, so the constant-velocity forecast is exact.
    for scene in payload["scenes"]:
        assert scene["errors"]["minADE"] == pytest.approx(0.0, abs=0.01)
    with pytest.raises(ConfigError, match="not both"):
        main([str(data), "--out", str(out), "--baseline", "constant_velocity", "--predictions", "x.npz"])


def test_scenario_tfrecord_with_map_renders_every_format(tmp_path, capsys):
    womd_write = pytest.importorskip("drive.datasets.womd_write", reason="WOMD writer not present")
    from tests.viz.scenes import make_scene

    path = tmp_path / "scenes.tfrecord"
    womd_write.write_scenarios(path, [make_scene(scenario_id=f"s{i}", num_agents=3 + i) for i in range(3)])
    assert main([str(path), "--out", str(tmp_path / "s1.png"), "--scenario-id", "s1", "--size", "200"]) == 0
    assert "(4 agents, 0 predicted mode(s))" in capsys.readouterr().out
    assert main([str(path), "--out", str(tmp_path / "s.gif"), "--index", "2", "--max-frames", "4"]) == 0
    assert len(iio.imread(tmp_path / "s.gif", index=None)) == 4
    assert main([str(path), "--out", str(tmp_path / "run.html"), "--baseline", "constant_velocity"]) == 0
    text = (tmp_path / "run.html").read_text()
    payload = json.loads(re.search(r'id="drive-data">(.*?)</script>', text, re.S).group(1))
    assert [len(s["agents"]) for s in payload["scenes"]] == [3, 4, 5]
    assert all(len(s["map"]) == 6 for s in payload["scenes"])


def test_window_options_change_the_view(data, tmp_path):
    outs = {}
    for name, extra in {
        "default": [],
        "window": ["--window", "0,0,3"],
        "half": ["--half-width", "30"],
    }.items():
        outs[name] = tmp_path / f"{name}.png"
        assert main([str(data), "--out", str(outs[name]), "--size", "200", *extra]) == 0
    images = {name: iio.imread(path)[..., :3].astype(int) for name, path in outs.items()}
    assert np.any(images["default"] != images["window"])
    assert np.any(images["default"] != images["half"])
    with pytest.raises(ConfigError, match="half_width_m"):
        main([str(data), "--out", str(tmp_path / "x.png"), "--half-width", "-1"])


def test_real_womd_submission_is_drawn_and_scored_at_two_hertz(tmp_path, capsys):
    submission = pytest.importorskip("drive.evaluation.submission", reason="submission formats not present")
    from drive.datasets import iter_scenarios
    from drive.evaluation.baselines import constant_velocity
    from drive.viz import forecast_errors, match_prediction

    path = shared_path("womd", "motion_data_one_scenario.tfrecord")
    scenario = next(iter(iter_scenarios(path)))
    dense = constant_velocity(scenario, 80)
    archive = tmp_path / "submission.tar.gz"
    submission.save_womd_submission(archive, [dense])
    out = tmp_path / "womd.html"
    assert main([str(path), "--out", str(out), "--predictions", str(archive)]) == 0
    payload = json.loads(re.search(r'id="drive-data">(.*?)</script>', out.read_text(), re.S).group(1))
    scene = payload["scenes"][0]
    assert [len(m["x"]) for f in scene["forecast"] for m in f["modes"]] == [16] * len(dense.agent_ids)
    # The 2 Hz samples are the dense forecast's every fifth step, so the errors match the dense ones
    # up to the sampling of the average (the final displacement is the same step).
    errors = forecast_errors(scenario, match_prediction(scenario, dense))
    assert scene["errors"]["minFDE"] == pytest.approx(errors["minFDE"], abs=1e-3)

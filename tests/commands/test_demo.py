"""`drive demo --quick`: the whole main job (simulate, train, evaluate, render) on a few scenes."""

import json

import torch

from drive.cli import main
from drive.training.module import load_module


def test_quick_demo_runs_end_to_end(tmp_path, capsys):
    assert main(["demo", "--quick", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    model, baseline = summary["model"]["metrics"], summary["constant_velocity"]["metrics"]
    for key in ("minADE_6", "minFDE_6", "minADE", "minFDE", "mAP"):
        assert key in model and key in baseline
    # Both were scored on the same targets of the same scenes.
    assert summary["model"]["counts"] == summary["constant_velocity"]["counts"]
    assert summary["model"]["counts"]["scored"] > 0
    assert f"{model['minADE_6']:.3f}" in out and f"{baseline['minADE_6']:.3f}" in out
    figures = [tmp_path / "demo" / name for name in ("scene_0.png", "viewer.html")]
    assert all(f.is_file() and f.stat().st_size > 1000 for f in figures)
    assert str(tmp_path / "demo") in out and summary["checkpoint"] in out
    module, window = load_module(summary["checkpoint"])
    assert window["num_future_steps"] == 80 and module.config.encoding == "drope_rope"
    # A second run reuses the simulated scenes.
    manifest = (tmp_path / "sim" / "manifest.json").stat().st_mtime_ns
    assert main(["demo", "--quick", "--workdir", str(tmp_path)]) == 0
    assert (tmp_path / "sim" / "manifest.json").stat().st_mtime_ns == manifest
    assert (tmp_path / "runs" / "version_1").is_dir()
    # The demo may run inside a longer-lived process (tests, a notebook): gradients stay on.
    assert torch.is_grad_enabled()

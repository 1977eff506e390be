"""The example scripts run and print what their docstrings promise."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _run(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_text_example(capsys):
    out = _run("text_rope.py", capsys)
    assert "YaRN ramp slots 20..46" in out and "0.1 ln s + 1 = 1.277259" in out
    unseen = dict(re.findall(r"^  (RoPE \(no change\)|PI|YaRN|Llama-3)\s+(\d+)", out, flags=re.M))
    assert unseen["PI"] == unseen["YaRN"] == unseen["Llama-3"] == "0" and int(unseen["RoPE (no change)"]) > 0
    assert re.search(r"L= 1024: smallest\s+4293\.\d", out)


def test_image_example(capsys):
    out = _run("image_rope.py", capsys)
    weights = [float(w) for w in re.findall(r"^  6x6 .*weight on neighbour\s+([\d.]+)", out, flags=re.M)]
    assert len(weights) == 2 and min(weights) > 0.9  # both variants learn the relative-position task


def test_video_example(capsys):
    out = _run("video_rope.py", capsys)
    assert out.count("text only equals 1-D RoPE: True") == 4
    assert "time on slots 48..63" in out  # VideoRoPE's low-frequency temporal allocation
    assert "16 zero-frequency slots" in out  # HoPE

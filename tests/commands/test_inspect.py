"""`drive inspect`: exact counts on the real sample, JSON keys, one-line errors, skip mode."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from drive.cli import main
from drive.datasets import womd
from drive.datasets.tfrecord import frame_record
from tests.conftest import REPO_ROOT, shared_path
from tests.datasets.test_womd import make_scenario


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["inspect", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_on_real_sample(capsys):
    code, out, err = _run(capsys, "--json", str(shared_path("womd", "motion_data_one_scenario.tfrecord")))
    assert code == 0 and err == ""
    (summary,) = json.loads(out)
    assert summary["scenario_id"] == "637f20cafde22ff8"
    assert summary["num_steps"] == 91 and summary["current_step"] == 10
    assert summary["agents_by_type"] == {"vehicle": 70, "pedestrian": 10, "cyclist": 3, "other": 0}
    assert summary["map_features_by_type"] == {
        "lane": 199,
        "road_line": 59,
        "road_edge": 28,
        "stop_sign": 8,
        "crosswalk": 4,
        "speed_bump": 3,
        "driveway": 0,
    }
    assert summary["num_targets"] == 3 and summary["sdc_idx"] == 82
    assert sum(summary["map_features_by_type"].values()) == summary["num_map_features"] == 301


def test_text_summary_and_several_paths(capsys, tmp_path):
    path = tmp_path / "built.tfrecord"
    womd.write_scenarios(path, [make_scenario(0), make_scenario(1)])
    code, out, _ = _run(capsys, str(path), str(shared_path("womd", "motion_data_one_scenario.tfrecord")))
    assert code == 0
    assert [line.split()[1] for line in out.splitlines() if line.startswith("scenario ")] == [
        "built0",
        "built1",
        "637f20cafde22ff8",
    ]
    assert "agents   83: vehicle 70, pedestrian 10, cyclist 3, other 0" in out


def test_tf_example_is_a_one_line_error(capsys):
    path = shared_path("womd", "motion_data_one_example.tfrecord")
    code, out, err = _run(capsys, "--json", str(path))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"drive inspect: error: {path}: record 0: not a waymo.open_dataset.Scenario")


def test_bad_scene_names_record_scenario_and_field(capsys, tmp_path):
    proto = womd.scenario_to_proto(make_scenario(0))
    proto.tracks[0].states[2].center_y = math.inf
    path = tmp_path / "bad.tfrecord"
    path.write_bytes(frame_record(womd.scenario_to_proto(make_scenario(1)).SerializeToString())
                     + frame_record(proto.SerializeToString()))  # fmt: skip
    code, _, err = _run(capsys, str(path))
    assert code == 1
    assert f"{path}: record 1 (scenario 'built0')" in err and "'agents.position'" in err


def test_skip_errors_lists_skipped_and_reads_the_rest(capsys):
    folder = shared_path("womd")
    code, out, err = _run(capsys, "--json", "--skip-errors", str(folder))
    assert code == 0
    assert [s["scenario_id"] for s in json.loads(out)] == ["637f20cafde22ff8"]
    assert "loaded 1 scenario(s), skipped 1" in err
    assert "motion_data_one_example.tfrecord record 0: not a waymo.open_dataset.Scenario" in err


def test_nothing_readable_in_skip_mode_fails(capsys, tmp_path):
    path = tmp_path / "junk.tfrecord"
    path.write_bytes(frame_record(b"\x08\x96\x01 junk") + b"\x00\x01")
    code, out, err = _run(capsys, "--skip-errors", str(path))
    assert code == 1 and out == ""
    assert "skipped 2" in err


def test_empty_file_is_an_error_not_silence(capsys, tmp_path):
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    assert main(["inspect", str(empty)]) == 1
    assert f"{empty}: holds no scenario" in capsys.readouterr().err
    # In skip mode it is listed like a bad record and the other paths are still read.
    sample = shared_path("womd", "motion_data_one_scenario.tfrecord")
    assert main(["inspect", "--json", "--skip-errors", str(empty), str(sample)]) == 0
    captured = capsys.readouterr()
    assert [s["scenario_id"] for s in json.loads(captured.out)] == ["637f20cafde22ff8"]
    assert "skipped 1" in captured.err and f"{empty} record file: holds no scenario" in captured.err


def test_missing_path_in_skip_mode_loses_only_itself(capsys, tmp_path):
    sample = shared_path("womd", "motion_data_one_scenario.tfrecord")
    missing, unknown = tmp_path / "nope.tfrecord", tmp_path / "notes.csv"
    unknown.write_text("a,b\n")
    assert main(["inspect", "--json", "--skip-errors", str(missing), str(sample), str(unknown)]) == 0
    captured = capsys.readouterr()
    assert [s["scenario_id"] for s in json.loads(captured.out)] == ["637f20cafde22ff8"]
    assert "skipped 2" in captured.err
    assert f"{missing} record file: no such file or directory" in captured.err
    assert f"{unknown} record file: not a recognised dataset" in captured.err
    # Without --skip-errors the first bad path is the one-line error.
    assert main(["inspect", "--json", str(sample), str(missing)]) == 1
    assert f"{missing}: no such file or directory" in capsys.readouterr().err


def test_unknown_path(capsys, tmp_path):
    code, _, err = _run(capsys, str(tmp_path / "missing.tfrecord"))
    assert code == 1 and "no such file or directory" in err


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_real_entry_point_prints_no_traceback(flag):
    path = shared_path("womd", "motion_data_one_example.tfrecord")
    result = subprocess.run(
        [sys.executable, "-m", "drive", "inspect", *flag, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a waymo.open_dataset.Scenario" in result.stderr

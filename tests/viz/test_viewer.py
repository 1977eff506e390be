"""The viewer's data and page, without a browser (see test_viewer_browser.py for the page itself)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from drive.errors import ConfigError, DataError
from drive.viz import match_prediction, scene_payload, viewer_html, write_viewer
from drive.viz.run import read_scene_errors, write_run_viewer
from tests.viz.scenes import make_prediction, make_scene


def page_data(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="drive-data">(.*?)</script>', text, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_payload_marks_invalid_steps_as_null_and_keeps_counts():
    scenario = make_scene(num_agents=3, invalid_agent=True)
    forecast = match_prediction(scenario, make_prediction(scenario, num_modes=2, offset_m=1.0))
    payload = scene_payload(scenario, forecast)
    last = payload["agents"][-1]
    assert last["x"][:2] == pytest.approx(scenario.agents.position[-1, :2, 0].tolist(), abs=0.01)
    assert last["x"][2:] == [None] * (scenario.num_steps - 2)
    assert [a["focus"] for a in payload["agents"]] == [True, False, False]
    assert len(payload["forecast"]) == 1 and len(payload["forecast"][0]["modes"]) == 2
    assert payload["errors"] == pytest.approx({"minADE": 1.0, "minFDE": 1.0})
    assert len(payload["map"]) == scenario.map.num_polylines


def test_page_is_self_contained_and_script_safe(tmp_path):
    scenario = make_scene(scenario_id="</script><b>x")
    text = viewer_html([scene_payload(scenario)])
    assert page_data(text)["scenes"][0]["id"] == "</script><b>x"
    # No external resource: the page must open from disk without a network.
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)
    with pytest.raises(ConfigError, match="html"):
        write_viewer(tmp_path / "v.txt", [scene_payload(scenario)])
    with pytest.raises(DataError, match="no scene"):
        viewer_html([])


@pytest.mark.parametrize(
    "content",
    [
        [{"scenario_id": "a", "minADE": 1.0, "minFDE": 2.0}, {"scenario_id": "b", "min_fde": 3.0}],
        {"per_scenario": {"a": {"min_ade": 1.0, "min_fde": 2.0}, "b": {"minFDE": 3.0}}},
        {
            "scenarios": [
                {"scenario_id": "a", "minade": 1.0, "minfde": 2.0},
                {"scenario_id": "b", "minFDE": 3.0},
            ]
        },
    ],
)
def test_scene_errors_are_read_from_the_accepted_layouts(tmp_path, content):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(content))
    assert read_scene_errors(path) == {"a": {"minADE": 1.0, "minFDE": 2.0}, "b": {"minFDE": 3.0}}


def test_scene_errors_without_metrics_are_an_error(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"minADE": 1.0}))
    with pytest.raises(DataError, match="per-scenario"):
        read_scene_errors(path)


def test_run_viewer_takes_errors_from_predictions_or_the_evaluation(tmp_path):
    scenes = [make_scene(scenario_id=f"s{i}") for i in range(4)]
    predictions = [make_prediction(s, offset_m=float(i)) for i, s in enumerate(scenes[:3])]
    count = write_run_viewer(
        tmp_path / "run.html", iter(scenes), predictions, scene_errors={"s1": {"minFDE": 9.0}}, max_scenes=3
    )
    data = page_data((tmp_path / "run.html").read_text())
    assert count == 3 and [s["id"] for s in data["scenes"]] == ["s0", "s1", "s2"]
    assert data["scenes"][0]["errors"] == pytest.approx({"minADE": 0.0, "minFDE": 0.0})
    assert data["scenes"][1]["errors"] == {"minFDE": 9.0}
    assert data["scenes"][2]["errors"] == pytest.approx({"minADE": 2.0, "minFDE": 2.0})
    assert np.all([len(s["forecast"]) == 1 for s in data["scenes"]])

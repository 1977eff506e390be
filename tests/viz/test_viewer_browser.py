"""The HTML viewer in a real headless chromium: loads cleanly, reacts to the slider, toggles, hover,
sorting, play, pan and zoom."""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np
import pytest

from drive.viz import AgentAttention, match_prediction, scene_payload, write_viewer
from tests.viz.browser import Page, browser  # noqa: F401  (browser is a fixture)
from tests.viz.scenes import make_prediction, make_scene

OFFSETS_M = (0.5, 3.0, 1.0)  # scene s1 has the largest error


@pytest.fixture(scope="module")
def run_page(browser, tmp_path_factory):  # noqa: F811
    path = tmp_path_factory.mktemp("viewer") / "run.html"
    payloads = []
    for i, offset in enumerate(OFFSETS_M):
        scenario = make_scene(num_agents=3 + i, scenario_id=f"s{i}", invalid_agent=True, num_steps=20)
        forecast = match_prediction(scenario, make_prediction(scenario, num_modes=3, offset_m=offset))
        attention = AgentAttention(0, np.linspace(0.0, 1.0, scenario.agents.num_agents))
        payloads.append(scene_payload(scenario, forecast, attention=attention))
    write_viewer(path, payloads)
    page = Page(browser, path)
    yield page
    page.close()


def non_background_fraction(png: bytes) -> float:
    pixels = iio.imread(io.BytesIO(png))[..., :3].astype(int)
    return float((np.abs(pixels - 255).sum(-1) > 30).mean())


def test_page_loads_without_errors_and_shows_the_worst_scene_first(run_page):
    assert run_page.errors == []
    rows = run_page.page.eval_on_selector_all("tr.scene-row", "rs => rs.map(r => r.cells[1].textContent)")
    assert rows == ["s1", "s2", "s0"]  # sorted by minFDE, worst first
    state = run_page.canvas_state()
    assert state["scene"] == "s1"
    # Scene s1 has 4 agents; the last is unobserved after step 1, so 3 are drawn at the current step.
    assert state["agentsDrawn"] == "3" and state["modesDrawn"] == "3" and state["step"] == "8"
    assert non_background_fraction(run_page.page.screenshot()) > 0.02


def test_slider_changes_what_is_drawn(run_page):
    run_page.set_slider(8)
    before = run_page.canvas_pixels()
    run_page.set_slider(1)
    state = run_page.canvas_state()
    assert state["step"] == "1" and state["modesDrawn"] == "0" and state["agentsDrawn"] == "4"
    assert run_page.canvas_pixels() != before
    run_page.set_slider(8)
    assert run_page.canvas_pixels() == before


def test_mode_and_agent_toggles(run_page):
    run_page.set_slider(8)
    run_page.page.locator("#modes input").first.uncheck()
    assert run_page.canvas_state()["modesDrawn"] == "2"
    run_page.page.locator("#modes input").first.check()
    run_page.page.locator("#agents input").nth(1).uncheck()
    assert run_page.canvas_state()["agentsDrawn"] == "2"
    run_page.page.locator("#agents input").nth(1).check()
    assert run_page.canvas_state()["agentsDrawn"] == "3"


def test_hover_names_the_agent_under_the_cursor(run_page):
    run_page.set_slider(8)
    position = run_page.page.evaluate(
        """() => { const v = window.driveViewer; const a = v.scene().agents[0];
                   return v.toScreen(a.x[v.state.step], a.y[v.state.step]); }"""
    )
    box = run_page.page.locator("#canvas").bounding_box()
    run_page.page.mouse.move(box["x"] + position[0], box["y"] + position[1])
    tip = run_page.page.locator("#tip")
    tip.wait_for(state="visible", timeout=10_000)
    assert "agent 100" in tip.text_content() and "m/s" in tip.text_content()


def test_sorting_clicking_and_navigation(run_page):
    run_page.page.locator("th", has_text="minFDE").click()  # second click: ascending
    rows = run_page.page.eval_on_selector_all("tr.scene-row", "rs => rs.map(r => r.cells[1].textContent)")
    assert rows == ["s0", "s2", "s1"]
    run_page.page.locator("tr.scene-row", has_text="s0").click()
    assert run_page.canvas_state()["scene"] == "s0"
    scale = run_page.page.evaluate("() => window.driveViewer.state.scale")
    box = run_page.page.locator("#canvas").bounding_box()
    run_page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    run_page.page.mouse.wheel(0, -300)
    # A wheel event is delivered asynchronously; wait for the viewer to have handled it.
    run_page.page.wait_for_function("s => window.driveViewer.state.scale > s", arg=scale, timeout=10_000)
    cx = run_page.page.evaluate("() => window.driveViewer.state.cx")
    run_page.page.mouse.down()
    run_page.page.mouse.move(box["x"] + box["width"] / 2 + 100, box["y"] + box["height"] / 2)
    run_page.page.mouse.up()
    run_page.page.wait_for_function("x => window.driveViewer.state.cx < x", arg=cx, timeout=10_000)
    run_page.set_slider(0)
    run_page.page.locator("#play").click()
    run_page.page.wait_for_function("document.getElementById('canvas').dataset.step !== '0'", timeout=10_000)
    run_page.page.locator("#play").click()
    assert run_page.errors == []


def test_attention_toggle_changes_the_drawing(run_page):
    run_page.set_slider(8)
    before = run_page.canvas_pixels()
    run_page.page.locator("#attn-box").uncheck()
    assert run_page.canvas_pixels() != before
    run_page.page.locator("#attn-box").check()
    assert run_page.canvas_pixels() == before


def test_real_womd_scene_in_the_browser(browser, tmp_path):  # noqa: F811
    from drive.datasets import iter_scenarios
    from tests.conftest import shared_path

    scenario = next(iter(iter_scenarios(shared_path("womd", "motion_data_one_scenario.tfrecord"))))
    path = write_viewer(tmp_path / "womd.html", [scene_payload(scenario)])
    page = Page(browser, path)
    try:
        assert page.errors == []
        state = page.canvas_state()
        assert state["agentsDrawn"] == str(int(scenario.agents.valid[:, scenario.current_step].sum()))
        assert page.page.locator("#agents input").count() == scenario.agents.num_agents
        assert non_background_fraction(page.page.screenshot()) > 0.05
        page.set_slider(scenario.num_steps - 1)
        assert page.canvas_state()["agentsDrawn"] == str(int(scenario.agents.valid[:, -1].sum()))
    finally:
        page.close()


def test_page_fetches_nothing_but_itself(run_page):
    assert run_page.requests and all(url.startswith("file:") for url in run_page.requests)


def test_hover_over_a_predicted_path_gives_its_mode_probability(run_page):
    # A point of the widest-offset mode early on its path, away from every box (boxes win a hover).
    run_page.set_slider(8)
    end = run_page.page.evaluate(
        """() => { const v = window.driveViewer; const m = v.scene().forecast[0].modes[2];
                   return v.toScreen(m.x[2], m.y[2]); }"""
    )
    box = run_page.page.locator("#canvas").bounding_box()
    run_page.page.mouse.move(box["x"] + end[0], box["y"] + end[1])
    run_page.page.wait_for_function("() => document.getElementById('tip').textContent.includes('mode')")
    text = run_page.page.locator("#tip").text_content()
    probability = run_page.page.evaluate("() => window.driveViewer.scene().forecast[0].modes[2].p")
    assert "mode 3" in text and f"p = {probability:.3f}" in text

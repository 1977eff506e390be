"""Scenes as compact JSON-ready dicts for the HTML viewer.

Numbers are rounded (positions to 1 cm, the map to 10 cm) and invalid steps become ``null`` so a
WOMD scene stays a few hundred kilobytes. Map polylines far from every agent are left out.
"""

from __future__ import annotations

import numpy as np

from drive.data.schema import AGENT_TYPE_NAMES, MAP_TYPE_NAMES, Scenario
from drive.viz.forecast import SceneForecast, forecast_errors
from drive.viz.layers import AgentAttention, agent_box_size
from drive.viz.window import ViewWindow, default_window

MAP_MARGIN_M = 40.0


def _rounded(values: np.ndarray, valid: np.ndarray | None, digits: int) -> list:
    out = np.round(values.astype(np.float64), digits).tolist()
    if valid is None:
        return out
    return [v if ok else None for v, ok in zip(out, valid.tolist())]


def _agents_payload(scenario: Scenario, focus_idx: np.ndarray) -> list[dict]:
    agents = scenario.agents
    size = agent_box_size(scenario)
    speed = np.linalg.norm(agents.velocity, axis=-1)  # (A, T)
    targets = set(int(i) for i in scenario.target_idx)
    focus = set(int(i) for i in focus_idx)
    return [
        {
            "id": int(agents.ids[i]),
            "type": AGENT_TYPE_NAMES[int(agents.types[i])],
            "target": i in targets,
            "focus": i in focus,
            "sdc": scenario.sdc_idx == i,
            "len": round(float(size[i, 0]), 2),
            "wid": round(float(size[i, 1]), 2),
            "x": _rounded(agents.position[i, :, 0], agents.valid[i], 2),
            "y": _rounded(agents.position[i, :, 1], agents.valid[i], 2),
            "h": _rounded(agents.heading[i], agents.valid[i], 3),
            "v": _rounded(speed[i], agents.valid[i], 2),
        }
        for i in range(agents.num_agents)
    ]


def _map_payload(scenario: Scenario) -> list[dict]:
    positions = scenario.agents.position[scenario.agents.valid]  # (N_valid, 2)
    low = positions.min(axis=0) - MAP_MARGIN_M
    high = positions.max(axis=0) + MAP_MARGIN_M
    road = scenario.map
    out = []
    for m in range(road.num_polylines):
        points = road.polyline(m)
        if np.any(points.max(axis=0) < low) or np.any(points.min(axis=0) > high):
            continue
        out.append({"t": MAP_TYPE_NAMES[int(road.types[m])], "p": _rounded(points.reshape(-1), None, 1)})
    return out


def _lights_payload(scenario: Scenario) -> list[dict]:
    lights = scenario.traffic_lights
    if lights is None:
        return []
    return [
        {
            "x": _rounded(lights.stop_point[:, lane, 0], lights.valid[:, lane], 1),
            "y": _rounded(lights.stop_point[:, lane, 1], lights.valid[:, lane], 1),
            "s": [int(v) if ok else None for v, ok in zip(lights.states[:, lane], lights.valid[:, lane])],
        }
        for lane in range(lights.lane_ids.shape[0])
        if lights.valid[:, lane].any()
    ]


def _forecast_payload(forecast: SceneForecast) -> list[dict]:
    return [
        {
            "agent": int(agent),
            "modes": [
                {
                    "p": round(float(forecast.probability[row, k]), 4),
                    "x": _rounded(forecast.trajectory[row, k, :, 0], None, 2),
                    "y": _rounded(forecast.trajectory[row, k, :, 1], None, 2),
                }
                for k in range(forecast.num_modes)
            ],
        }
        for row, agent in enumerate(forecast.agent_idx)
    ]


def scene_payload(
    scenario: Scenario,
    forecast: SceneForecast | None = None,
    *,
    focus_idx: np.ndarray | None = None,
    window: ViewWindow | None = None,
    attention: AgentAttention | None = None,
    errors: dict[str, float] | None = None,
) -> dict:
    """One scene for the viewer. ``errors`` (``minADE``/``minFDE`` in m) defaults to those computed
    from ``forecast`` against the ground truth."""
    focus_idx = np.asarray(scenario.target_idx if focus_idx is None else focus_idx, np.int64)
    window = window or default_window(scenario, focus_idx, forecast)
    if errors is None and forecast is not None:
        errors = forecast_errors(scenario, forecast)
    return {
        "id": scenario.scenario_id,
        "source": scenario.source,
        "dt": scenario.dt_s,
        "current": scenario.current_step,
        "steps": scenario.num_steps,
        "view": {"cx": window.center_x_m, "cy": window.center_y_m, "half": window.half_width_m},
        "agents": _agents_payload(scenario, focus_idx),
        "map": _map_payload(scenario),
        "lights": _lights_payload(scenario),
        "forecast": _forecast_payload(forecast) if forecast is not None else [],
        "errors": {k: round(float(v), 3) for k, v in errors.items()} if errors else None,
        "attention": (
            {
                "agent": int(attention.agent_idx),
                "w": _rounded(attention.checked_weights(scenario.agents.num_agents), None, 4),
            }
            if attention is not None
            else None
        ),
    }

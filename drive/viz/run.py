"""A viewer for a whole evaluation run: many scenes, their forecasts, and per-scene errors."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path

from drive.data.schema import Scenario
from drive.errors import DataError
from drive.viz.forecast import find_prediction, match_prediction
from drive.viz.viewer import write_viewer
from drive.viz.viewer_data import scene_payload

ERROR_KEYS = ("minADE", "minFDE")
_ALIASES = {"min_ade": "minADE", "minade": "minADE", "min_fde": "minFDE", "minfde": "minFDE"}


def _errors_of(entry: dict) -> dict[str, float]:
    out = {}
    for key, value in entry.items():
        name = _ALIASES.get(str(key).lower().replace("-", "_"), str(key))
        if name in ERROR_KEYS and isinstance(value, (int, float)) and math.isfinite(value):
            out[name] = float(value)
    return out


def read_scene_errors(path: str | Path) -> dict[str, dict[str, float]]:
    """Per-scene errors from an evaluation JSON: scenario id -> ``{"minADE": m, "minFDE": m}``.

    Accepted layouts: a list of objects with ``scenario_id`` and metric keys, or an object holding
    such a list or an id-keyed object under ``per_scenario`` or ``scenarios`` (or at the top level).
    Metric keys may be spelt ``minADE``/``min_ade``/``minade`` (same for FDE).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read evaluation JSON: {err}") from err
    if isinstance(data, dict):
        for key in ("per_scenario", "scenarios", "per_scene"):
            if key in data:
                data = data[key]
                break
    rows: dict[str, dict[str, float]] = {}
    if isinstance(data, list):
        for entry in data:
            if isinstance(entry, dict) and "scenario_id" in entry:
                rows[str(entry["scenario_id"])] = _errors_of(entry)
    elif isinstance(data, dict):
        rows = {str(k): _errors_of(v) for k, v in data.items() if isinstance(v, dict)}
    rows = {k: v for k, v in rows.items() if v}
    if not rows:
        raise DataError(
            f"{path}: no per-scenario minADE/minFDE found (expected a list of objects with "
            "'scenario_id', or an object under 'per_scenario' / 'scenarios')"
        )
    return rows


def write_run_viewer(
    path: str | Path,
    scenarios: Iterable[Scenario],
    predictions: list | Callable[[Scenario], object] | None = None,
    *,
    scene_errors: dict[str, dict[str, float]] | None = None,
    max_scenes: int = 50,
    title: str | None = None,
) -> int:
    """One viewer page for up to ``max_scenes`` scenes; each gets its forecast from ``predictions``
    (ScenarioPrediction-like objects, or a function of the scenario returning one or None) when
    present, and its errors from ``scene_errors`` or else computed from the forecast. Returns the
    number of scenes written."""
    payloads = []
    for scenario in scenarios:
        if len(payloads) >= max_scenes:
            break
        if callable(predictions):
            prediction = predictions(scenario)
            forecast = match_prediction(scenario, prediction) if prediction is not None else None
        else:
            forecast = find_prediction(scenario, predictions) if predictions else None
        errors = (scene_errors or {}).get(scenario.scenario_id)
        payloads.append(scene_payload(scenario, forecast, errors=errors))
    write_viewer(path, payloads, title)
    return len(payloads)

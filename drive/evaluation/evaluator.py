"""Score predictions against scenarios with every metric family the data allows.

- AV2-style keys (``minADE_6``, ``minFDE_6``, ``MR_6``, ``brier_minFDE_6``, ``minADE_1``, ``minFDE_1``,
  ``MR_1``) for every source except ETH/UCY, over the whole predicted horizon at the dataset's rate;
- WOMD keys (``minADE``, ``minFDE``, ``miss_rate``, ``overlap_rate``, ``mAP``, ``soft_mAP``) per
  horizon (3, 5, 8 s) and object type, when the scenarios have the WOMD layout (10 Hz, >= 8 s future:
  WOMD and the simulated traffic) and predictions reach 8 s;
- ``ADE_20``, ``FDE_20`` (when K >= 20), ``ADE_1``, ``FDE_1`` for ETH/UCY.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import torch

from drive.data.schema import AGENT_TYPE_NAMES, Scenario
from drive.errors import ConfigError, DataError
from drive.evaluation.ground_truth import (
    is_womd_grid,
    match_targets,
    others_at_samples,
    prediction_stride,
    target_future,
)
from drive.evaluation.predictions import ScenarioPrediction
from drive.evaluation.result import EvaluationResult
from drive.evaluation.submission import womd_samples
from drive.metrics.av2 import AV2Metrics
from drive.metrics.best_of_n import BestOfNMetrics
from drive.metrics.womd import MAX_PREDICTIONS
from drive.metrics.womd_map import classify_tracks
from drive.metrics.womd_metric import WOMDMetrics
from drive.metrics.womd_overlap import overlap_per_sample

PredictionSource = Iterable[ScenarioPrediction] | Mapping[str, ScenarioPrediction] | Callable
MISSING_MODES = ("error", "count")
FAMILY_SOURCES = ("womd", "av2", "eth_ucy", "sumo")


class _Families:
    """One metric object per family and object type (``None`` key = all types)."""

    def __init__(self) -> None:
        self.av2: dict[int | None, list[AV2Metrics]] = {}
        self.eth: dict[int | None, list[BestOfNMetrics]] = {}
        self.womd = WOMDMetrics()
        self.womd_used = False
        self.eth_n20 = True

    def _per_type(self, table: dict, make: Callable, types: np.ndarray):
        for key in (None, *np.unique(types).tolist()):
            if key not in table:
                table[key] = make()
            yield key, (types == key) if key is not None else np.ones(len(types), dtype=bool)

    def update_av2(self, types, *args) -> None:
        for key, sel in self._per_type(self.av2, lambda: [AV2Metrics(k=6), AV2Metrics(k=1)], types):
            sel = torch.from_numpy(sel)
            for metric in self.av2[key]:
                metric.update(*(a[sel] for a in args))

    def update_eth(self, types, *args) -> None:
        k = args[1].shape[1]
        self.eth_n20 = self.eth_n20 and k >= 20
        for key, sel in self._per_type(self.eth, lambda: [BestOfNMetrics(n=20), BestOfNMetrics(n=1)], types):
            sel = torch.from_numpy(sel)
            for metric in self.eth[key]:
                metric.update(*(a[sel] for a in args))


def scene_errors(trajectory: np.ndarray, target: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """Mean over targets of the AV2-style minADE / minFDE (best mode = smallest endpoint error).

    trajectory ``[N, K, T, 2]``, target ``[N, T, 2]``, valid ``[N, T]``; targets with no valid step are
    left out; returns NaNs when none is left. The endpoint is each target's last valid step.
    """
    keep = valid.any(-1)
    trajectory, target, valid = trajectory[keep], target[keep], valid[keep]
    if len(target) == 0:
        return float("nan"), float("nan")
    error = np.linalg.norm(trajectory - target[:, None], axis=-1)  # (N, K, T)
    last = valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)  # (N,)
    endpoint = error[np.arange(len(last)), :, last]  # (N, K)
    best = endpoint.argmin(1)
    ade = (error * valid[:, None]).sum(-1) / valid.sum(-1, keepdims=True)  # (N, K)
    rows = np.arange(len(best))
    return float(ade[rows, best].mean()), float(endpoint[rows, best].mean())


def _prediction_lookup(predictions: PredictionSource) -> Callable[[Scenario], ScenarioPrediction | None]:
    if callable(predictions) and not isinstance(predictions, Mapping):
        return predictions
    if not isinstance(predictions, Mapping):
        by_id: dict[str, ScenarioPrediction] = {}
        for p in predictions:
            if p.scenario_id in by_id:
                raise DataError(f"predictions: scenario {p.scenario_id!r} appears twice")
            by_id[p.scenario_id] = p
        predictions = by_id
    return lambda scenario: predictions.get(scenario.scenario_id)


def _womd_update(families: _Families, scenario: Scenario, prediction: ScenarioPrediction, targets) -> None:
    samples = womd_samples(prediction)[targets.row]  # (N, K, 16, 2)
    prob = prediction.probability[targets.row]
    # mAP ranks modes across objects by the raw scores when the file kept them (as the official code).
    raw = prob if prediction.confidence is None else prediction.confidence[targets.row]
    order = np.argsort(-prob, axis=1, kind="stable")[:, :MAX_PREDICTIONS]  # (N, K') by confidence
    samples = np.take_along_axis(samples, order[:, :, None, None], 1).astype(np.float64)
    confidence = np.take_along_axis(raw, order, 1).astype(np.float64)
    position, heading, valid = target_future(scenario, targets.agent_idx, 16, 5)
    agents, c = scenario.agents, scenario.current_step
    idx = targets.agent_idx
    types, has_type = classify_tracks(
        agents.position[idx].astype(np.float64),
        agents.heading[idx].astype(np.float64),
        agents.velocity[idx].astype(np.float64),
        agents.valid[idx],
        c,
    )
    overlap = np.stack(
        [
            overlap_per_sample(
                samples[n, 0], agents.size[i, :2].astype(np.float64), *others_at_samples(scenario, i)
            )
            for n, i in enumerate(idx)
        ]
    )  # (N, 16)
    speed = np.linalg.norm(agents.velocity[idx, c].astype(np.float64), axis=-1)
    families.womd.update(
        *(
            torch.from_numpy(np.ascontiguousarray(a))
            for a in (samples, confidence, position, heading, valid, speed)
        ),
        object_type=torch.from_numpy(targets.types),
        trajectory_type=torch.from_numpy(types),
        type_valid=torch.from_numpy(has_type),
        overlap=torch.from_numpy(overlap),
    )
    families.womd_used = True


def evaluate(
    scenarios: Iterable[Scenario],
    predictions: PredictionSource,
    *,
    source: str | None = None,
    missing: str = "error",
) -> EvaluationResult:
    """Score ``predictions`` on ``scenarios``.

    predictions: ScenarioPredictions (an iterable or a mapping by scenario id) or a function
    ``scenario -> ScenarioPrediction`` (e.g. a baseline). Rows are matched by scenario id + agent id.
    source: the metric families to use (``womd``, ``av2``, ``eth_ucy``, ``sumo``); by default each
    scenario's own ``source``. missing: ``"error"`` raises :class:`DataError` naming the first target
    without a prediction; ``"count"`` skips it and counts it in the result.
    """
    if missing not in MISSING_MODES:
        raise ConfigError(f"evaluate: missing={missing!r}; allowed: {', '.join(MISSING_MODES)}")
    if source is not None and source not in FAMILY_SOURCES:
        raise ConfigError(f"evaluate: source={source!r}; allowed: {', '.join(FAMILY_SOURCES)}")
    lookup = _prediction_lookup(predictions)
    families = _Families()
    counts = dict(scenarios=0, targets=0, scored=0, missing_predictions=0)
    sources, horizons, modes, notes = set(), set(), set(), set()
    per_scenario: list[dict] = []
    for scenario in scenarios:
        counts["scenarios"] += 1
        prediction = lookup(scenario)
        if prediction is None:
            prediction = ScenarioPrediction(
                scenario.scenario_id,
                np.zeros(0, np.int64),
                np.zeros((0, 1, 1, 2), np.float32),
                np.zeros((0, 1), np.float32),
            )
        targets = match_targets(scenario, prediction)
        counts["targets"] += len(targets.agent_idx) + len(targets.missing_ids)
        if targets.missing_ids:
            if missing == "error":
                raise DataError(
                    f"scenario {scenario.scenario_id!r}: no prediction for target agent id(s) "
                    f"{', '.join(map(str, targets.missing_ids))} "
                    "(pass missing='count' / --missing count to skip them)"
                )
            counts["missing_predictions"] += len(targets.missing_ids)
        if len(targets.agent_idx) == 0:
            continue
        family = source or scenario.source
        sources.add(family)
        tf, stride = prediction.num_future_steps, prediction_stride(scenario, prediction.num_future_steps)
        horizons.add(round(tf * stride * scenario.dt_s, 3))
        modes.add(prediction.num_modes)
        position, _, valid = target_future(scenario, targets.agent_idx, tf, stride)
        counts["scored"] += int(valid.any(-1).sum())
        scene_ade, scene_fde = scene_errors(prediction.trajectory[targets.row], position, valid)
        per_scenario.append(
            {
                "scenario_id": scenario.scenario_id,
                "num_targets": len(targets.agent_idx),
                "minADE": scene_ade,
                "minFDE": scene_fde,
            }
        )
        args = (
            torch.from_numpy(prediction.trajectory[targets.row].astype(np.float64)),
            torch.from_numpy(prediction.probability[targets.row].astype(np.float64)),
            torch.from_numpy(position),
            torch.from_numpy(valid),
        )
        if family == "eth_ucy":
            families.update_eth(targets.types, *args)
            continue
        if stride == 1:
            families.update_av2(targets.types, *args)
        else:
            notes.add("AV2-style keys need predictions at the dataset rate; 2 Hz WOMD samples have none")
        reaches_8s = stride == 5 or tf >= 80
        if is_womd_grid(scenario) and reaches_8s:
            _womd_update(families, scenario, prediction, targets)
        elif is_womd_grid(scenario):
            notes.add("WOMD keys need predictions that reach 8 s (16 samples at 2 Hz or >= 80 at 10 Hz)")
    return _result(families, counts, sources, horizons, modes, notes, per_scenario)


def _values(metrics) -> dict[str, float]:
    out: dict[str, float] = {}
    for metric in metrics:
        if int(metric.count) > 0:  # no scored object: no value rather than a zero
            out.update({k: float(v) for k, v in metric.compute().items()})
    return out


def _result(families: _Families, counts, sources, horizons, modes, notes, per_scenario) -> EvaluationResult:
    def by_type(table, drop=()):
        rows = {
            AGENT_TYPE_NAMES[key]: {k: v for k, v in _values(table[key]).items() if k not in drop}
            for key in sorted(k for k in table if k is not None)
        }
        return {name: values for name, values in rows.items() if values}

    families_out: dict[str, dict] = {}
    if None in families.av2:
        families_out["av2"] = {"overall": _values(families.av2[None]), "by_type": by_type(families.av2)}
    if None in families.eth:
        drop = () if families.eth_n20 else ("ADE_20", "FDE_20")
        if drop:
            notes.add("ADE_20/FDE_20 need at least 20 modes per agent")
        overall = {k: v for k, v in _values(families.eth[None]).items() if k not in drop}
        families_out["eth_ucy"] = {"overall": overall, "by_type": by_type(families.eth, drop)}
    if families.womd_used:
        families_out["womd"] = families.womd.compute()
    return EvaluationResult(
        source=",".join(sorted(sources)) or "none",
        counts=counts,
        settings={"horizon_s": sorted(horizons), "num_modes": sorted(modes)},
        families=families_out,
        notes=sorted(notes),
        per_scenario=per_scenario,
    )

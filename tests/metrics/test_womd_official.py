"""Our WOMD evaluator against the official TF op (``py_metrics_ops.motion_metrics``) on random cases.

The op's outputs are stored in ``data/womd_official_reference.json`` (written by ``womd_reference.py``
in an environment with tensorflow-cpu 2.13.1 and waymo-open-dataset 1.6.7); the cases are rebuilt here from
their seeds, so the test needs neither TensorFlow nor the op.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drive.data.schema import AgentTracks, MapFeatures, Scenario
from drive.evaluation.evaluator import evaluate
from drive.evaluation.predictions import ScenarioPrediction
from tests.conftest import shared_path
from tests.metrics.womd_reference import CURRENT_STEP, NUM_TARGETS, SEEDS, make_case

REFERENCE = Path(__file__).parent / "data" / "womd_official_reference.json"
TYPE_NAMES = {"TYPE_VEHICLE": "vehicle", "TYPE_PEDESTRIAN": "pedestrian", "TYPE_CYCLIST": "cyclist"}
HORIZONS = {"5": "3s", "9": "5s", "15": "8s"}
KEYS = {
    "min_ade": "minADE",
    "min_fde": "minFDE",
    "miss_rate": "miss_rate",
    "overlap_rate": "overlap_rate",
    "mean_average_precision": "mAP",
}


def _ours(seed: int) -> dict:
    case = make_case(seed)
    a = len(case["types"])
    scenario = Scenario(
        scenario_id=f"case-{seed}",
        source="womd",
        dt_s=0.1,
        current_step=CURRENT_STEP,
        agents=AgentTracks(
            ids=np.arange(a, dtype=np.int64),
            types=(case["types"] - 1).astype(np.int8),  # proto 1..3 -> AgentType 0..2
            position=np.where(case["valid"][..., None], case["position"], 0.0).astype(np.float32),
            heading=np.where(case["valid"], case["heading"], 0.0).astype(np.float32),
            velocity=np.where(case["valid"][..., None], case["velocity"], 0.0).astype(np.float32),
            size=np.concatenate([case["size"], np.ones((a, 1))], -1).astype(np.float32),
            valid=case["valid"],
        ),
        target_idx=np.arange(NUM_TARGETS, dtype=np.int64),
        map=MapFeatures.empty(),
    )
    prediction = ScenarioPrediction(
        scenario.scenario_id,
        np.arange(NUM_TARGETS, dtype=np.int64),
        case["prediction"].astype(np.float32),
        (case["score"] / case["score"].sum(-1, keepdims=True)).astype(np.float32),
        confidence=case["score"].astype(np.float32),  # the raw scores rank modes across objects for mAP
    )
    return evaluate([scenario], [prediction]).to_json()["womd"]["by_type_horizon"]


def _reference(key: str) -> dict:
    if not REFERENCE.is_file():
        pytest.skip(f"{REFERENCE} is absent; write it with tests/metrics/womd_reference.py")
    return json.loads(REFERENCE.read_text())[key]


@pytest.mark.parametrize("seed", SEEDS)
def test_matches_the_official_op(seed):
    _compare(_reference(str(seed)), _ours(seed), f"seed {seed}")


def test_constant_velocity_on_the_recorded_sample_matches_the_official_op():
    """The recorded WOMD scenario (per-step box sizes in the op, one size per agent here) with the
    constant-velocity forecast: our baseline and evaluator against an independent forecast and the op."""
    from drive.datasets import iter_scenarios
    from drive.evaluation.baselines import constant_velocity

    official = _reference("real_sample_constant_velocity")
    scenario = next(iter(iter_scenarios(shared_path("womd", "motion_data_one_scenario.tfrecord"))))
    ours = evaluate([scenario], lambda s: constant_velocity(s, 80)).to_json()["womd"]["by_type_horizon"]
    _compare(official, ours, "recorded sample")


def _compare(official: dict, ours: dict, where: str) -> None:
    compared = 0
    for name, values in official.items():
        type_key, step = name.rsplit("_", 1)
        cell = ours.get(TYPE_NAMES[type_key], {}).get(HORIZONS[step])
        if cell is None:  # no object of this type: the op reports -1 everywhere
            assert all(v == -1.0 for v in values.values()), name
            continue
        for key, value in values.items():
            if KEYS[key] not in cell:
                # Objects of this type, but none measurable at this horizon: the op reports the mean of an
                # empty accumulator (0); we leave the key out.
                assert value == 0.0, f"{where} {name} {key}"
                continue
            assert cell[KEYS[key]] == pytest.approx(value, abs=2e-4), f"{where} {name} {key}"
            compared += 1
    assert compared > 0

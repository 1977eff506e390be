"""The probe on a (small, untrained) trajectory model: every rotary layer is found, a common shift of
positions changes no layer output, removing RoPE changes every layer and the predictions."""

from __future__ import annotations

import pytest
import torch

from drive.analysis.rope_probe import called_with_angles, probe_model, probe_table, rotary_layers
from drive.models import PredictorConfig, TrajectoryPredictor
from tests.models.synthetic import make_batch


@pytest.fixture(scope="module")
def probed():
    torch.manual_seed(0)
    config = PredictorConfig(
        num_future_steps=3,
        hidden_dim=32,
        num_heads=2,
        num_modes=2,
        dropout=0.0,
        num_temporal_layers=1,
        num_interaction_layers=1,
    )
    model = TrajectoryPredictor(config).eval()
    return model, probe_model(model, make_batch())


def test_finds_every_rotating_layer(probed):
    model, results = probed
    candidates = rotary_layers(model)
    assert sum("modes" in name for name, *_ in candidates) == 2  # one per decoder stage, called unrotated
    names = [name for name, *_ in called_with_angles(model, make_batch(), candidates)]
    # 1 temporal + 3 interaction + 2 decoder stages x (history, map, agents); the modes layers drop out.
    assert len(names) == 10
    assert sum("temporal" in n for n in names) == 1 and not any("modes" in n for n in names)
    assert [r.layer for r in results] == names


def test_shift_is_invariant_and_removal_is_not(probed):
    _, results = probed
    for r in results:
        assert r.layer_change["shift"] < 1e-4, r
        assert r.prediction_change_m["shift"] < 1e-3, r
        assert r.layer_change["remove"] > 1e-3, r
        assert r.layer_change["offset"] > 1e-4, r
    assert max(r.prediction_change_m["remove"] for r in results) > 1e-3


def test_table_has_a_row_per_layer(probed):
    _, results = probed
    table = probe_table(results).splitlines()
    assert len(table) == 2 + len(results) and table[2].startswith("| `encoder.temporal")

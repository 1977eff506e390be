"""The speed benchmark's FLOP accounting and its synthetic scenes."""

from __future__ import annotations

import pytest

from drive.benchmarks import synthetic_scene
from drive.data.batch import collate_scenarios
from drive.models import PredictorConfig, TrajectoryPredictor
from drive.training.scenes import crop_scenario
from tests.benchmarks.scripts import load_script


def _bench_train():
    return load_script("bench_train")


@pytest.mark.parametrize("num_agents,num_chunks", [(3, 4), (5, 0)])
def test_synthetic_scene_has_the_asked_size(num_agents, num_chunks):
    batch = collate_scenarios([crop_scenario(synthetic_scene(num_agents, num_chunks), 11, 80)])
    assert batch.agent_mask.sum() == num_agents and batch.target_mask.sum() == num_agents
    assert int(batch.map_mask.sum()) == num_chunks


def test_flop_parts_add_up_to_the_total():
    bench = _bench_train()
    config = PredictorConfig(
        num_future_steps=80,
        hidden_dim=16,
        num_heads=2,
        xy_slots=2,
        heading_slots=2,
        se2_pose_blocks=1,
        se2_rotation_pairs=1,
    )
    model = TrajectoryPredictor(config).eval()
    small = collate_scenarios([crop_scenario(synthetic_scene(4, 3), 11, 80)])
    large = collate_scenarios([crop_scenario(synthetic_scene(8, 3), 11, 80)])
    flops = bench.flop_breakdown(model, small)
    parts = sum(v for k, v in flops.items() if k not in ("total", "other"))
    assert flops["total"] > 0
    # The submodules hold all but the angle tables' small products.
    assert parts == pytest.approx(flops["total"], rel=1e-2)
    assert parts + flops["other"] == pytest.approx(flops["total"], rel=1e-6)
    # Agent-dependent parts grow with the number of agents; the map's do not.
    more = bench.flop_breakdown(model, large)
    assert more["encoder.temporal"] == pytest.approx(2 * flops["encoder.temporal"], rel=1e-6)
    assert more["encoder.point_mlp"] == pytest.approx(flops["encoder.point_mlp"], rel=1e-6)

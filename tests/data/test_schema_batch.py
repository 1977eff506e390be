import dataclasses

import numpy as np
import pytest

from drive.data.batch import chunk_polylines, collate_scenarios
from drive.data.schema import AgentTracks, MapFeatures, Scenario
from drive.errors import DataError


def make_scenario(num_agents=3, num_steps=6, seed=0, map_sizes=(1, 45), scenario_id=None):
    rng = np.random.default_rng(seed)
    agents = AgentTracks(
        ids=np.arange(num_agents, dtype=np.int64),
        types=np.zeros(num_agents, np.int8),
        position=rng.normal(size=(num_agents, num_steps, 2)).astype(np.float32),
        heading=rng.uniform(-3, 3, size=(num_agents, num_steps)).astype(np.float32),
        velocity=np.zeros((num_agents, num_steps, 2), np.float32),
        size=np.ones((num_agents, 3), np.float32),
        valid=np.ones((num_agents, num_steps), bool),
    )
    offsets = np.concatenate([[0], np.cumsum(map_sizes)]).astype(np.int64)
    road = MapFeatures(
        ids=np.arange(len(map_sizes), dtype=np.int64),
        types=np.zeros(len(map_sizes), np.int8),
        subtypes=np.zeros(len(map_sizes), np.int16),
        points=rng.normal(size=(int(offsets[-1]), 2)).astype(np.float32),
        offsets=offsets,
    )
    return Scenario(scenario_id or f"s{seed}", "test", 0.1, 2, agents, np.array([0]), road)


def test_scenario_rejects_nan_naming_field_and_agent():
    scenario = make_scenario()
    position = scenario.agents.position.copy()
    position[1, 3, 0] = np.nan
    agents = AgentTracks(**{**scenario.agents.__dict__, "position": position})
    with pytest.raises(DataError, match=r"agents.position.*agent index 1.*step 3"):
        Scenario("bad", "test", 0.1, 2, agents, np.array([0]), scenario.map)


def test_scenario_rejects_no_valid_target_and_empty_scene():
    scenario = make_scenario()
    valid = scenario.agents.valid.copy()
    valid[0, 2] = False
    agents = AgentTracks(**{**scenario.agents.__dict__, "valid": valid})
    with pytest.raises(DataError, match="target_idx"):
        Scenario("bad", "test", 0.1, 2, agents, np.array([0]), scenario.map)
    empty = make_scenario(num_agents=1)
    agents0 = AgentTracks(**{k: v[:0] for k, v in empty.agents.__dict__.items()})
    with pytest.raises(DataError, match="agents"):
        Scenario("empty", "test", 0.1, 2, agents0, np.array([0]), empty.map)


def test_chunks_cover_every_segment_once():
    scenario = make_scenario(map_sizes=(1, 45, 20))
    points, mask, _, owner = chunk_polylines(scenario, points_per_chunk=20)
    segments = sum(int(m.sum()) - 1 for m in mask)
    assert segments == (45 - 1) + (20 - 1)
    assert list(np.bincount(owner)) == [1, 3, 1]
    first = scenario.map.polyline(1)
    assert np.allclose(points[1, :20], first[:20]) and np.allclose(points[2, 0], first[19])


def test_collate_pads_with_masks_and_zeros():
    batch = collate_scenarios([make_scenario(3, seed=0), make_scenario(5, seed=1)])
    assert batch.agent_pos.shape == (2, 5, 6, 2)
    assert batch.agent_mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert float(batch.agent_pos[0, 3:].abs().sum()) == 0.0
    assert batch.target_mask[:, 0].all() and batch.target_mask.sum() == 2
    assert batch.dt_s == 0.1 and batch.current_step == 2 and batch.scenario_ids == ["s0", "s1"]


def test_collate_refuses_mixed_time_axes_naming_the_scenarios():
    base = make_scenario(3, seed=0)
    later = dataclasses.replace(make_scenario(3, seed=1), current_step=3)
    with pytest.raises(DataError, match=r"\['s0', 's1'\]: field 'current_step'.*got \[2, 3\]"):
        collate_scenarios([base, later])
    longer = make_scenario(3, num_steps=8, seed=2)
    with pytest.raises(DataError, match=r"\['s0', 's2'\]: field 'num_steps'.*got \[6, 8\]"):
        collate_scenarios([base, longer])
    with pytest.raises(DataError, match="empty list"):
        collate_scenarios([])

"""Small synthetic scenes (agents on gently curving paths along straight lanes) and a DataModule over them."""

from __future__ import annotations

import math

import numpy as np

from drive.data.schema import AgentTracks, MapFeatures, Scenario
from drive.geometry.se2 import wrap_angle
from drive.training.datamodule import ScenarioDataModule


def make_scenario(
    index: int,
    num_agents: int = 5,
    num_steps: int = 20,
    current_step: int = 7,
    dt_s: float = 0.1,
    seed: int = 0,
) -> Scenario:
    rng = np.random.default_rng([seed, index])
    start = rng.uniform(-30, 30, (num_agents, 1, 2))
    heading0 = rng.uniform(-math.pi, math.pi, (num_agents, 1))
    turn = rng.normal(0, 0.03, (num_agents, 1))
    speed = rng.uniform(2, 12, (num_agents, 1, 1))
    heading = wrap_angle(heading0 + turn * np.arange(num_steps))  # (A, T)
    velocity = speed * np.stack([np.cos(heading), np.sin(heading)], -1)  # (A, T, 2)
    position = start + np.cumsum(velocity * dt_s, axis=1)
    valid = np.ones((num_agents, num_steps), bool)
    valid[-1, :2] = False  # one agent appears late
    lane = start[:, 0, None, :] + np.linspace(0, 60, 8)[None, :, None] * np.stack(
        [np.cos(heading0), np.sin(heading0)], -1
    )  # (A, 8, 2)
    road = MapFeatures(
        ids=np.arange(num_agents, dtype=np.int64),
        types=np.zeros(num_agents, np.int8),
        subtypes=np.zeros(num_agents, np.int16),
        points=lane.reshape(-1, 2).astype(np.float32),
        offsets=np.arange(0, 8 * num_agents + 1, 8, dtype=np.int64),
    )
    agents = AgentTracks(
        ids=np.arange(100, 100 + num_agents, dtype=np.int64),
        types=np.zeros(num_agents, np.int8),
        position=np.where(valid[..., None], position, 0).astype(np.float32),
        heading=np.where(valid, heading, 0).astype(np.float32),
        velocity=np.where(valid[..., None], velocity, 0).astype(np.float32),
        size=np.tile(np.array([4.5, 2.0, 1.6], np.float32), (num_agents, 1)),
        valid=valid,
    )
    return Scenario(
        scenario_id=f"synthetic-{seed}-{index}",
        source="synthetic",
        dt_s=dt_s,
        current_step=current_step,
        agents=agents,
        target_idx=np.arange(num_agents - 1),
        map=road,
    )


class SyntheticDataModule(ScenarioDataModule):
    """Generated scenes: ``num_train`` / ``num_val`` / ``num_test`` of them."""

    def __init__(
        self,
        num_train: int = 16,
        num_val: int = 4,
        num_test: int = 4,
        *,
        num_history_steps: int = 8,
        num_future_steps: int = 12,
        **kwargs,
    ) -> None:
        super().__init__(num_history_steps=num_history_steps, num_future_steps=num_future_steps, **kwargs)
        self.sizes = {"train": num_train, "val": num_val, "test": num_test, "predict": num_test}

    def split_source(self, split: str) -> str:
        return f"<synthetic {split}>"

    def read_split(self, split: str):
        offset = {"train": 0, "val": 10_000, "test": 20_000, "predict": 20_000}[split]
        for i in range(self.sizes[split]):
            yield make_scenario(
                offset + i,
                num_steps=self.num_history_steps + self.num_future_steps,
                current_step=self.num_history_steps - 1,
            )

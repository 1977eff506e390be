"""Running a trained module over scenarios: world-frame :class:`ScenarioPrediction` per scene."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch

from drive.data.batch import DEFAULT_POINTS_PER_CHUNK, SceneBatch, collate_scenarios
from drive.data.schema import Scenario
from drive.errors import DataError
from drive.evaluation.predictions import ScenarioPrediction
from drive.geometry.se2 import wrap_angle
from drive.models import prediction_to_world
from drive.training.module import TrajectoryModule
from drive.training.scenes import crop_scenario, thin_map


def _batches(scenes: Iterable[Scenario], size: int) -> Iterator[list[Scenario]]:
    batch: list[Scenario] = []
    for scene in scenes:
        batch.append(scene)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def batch_predictions(module: TrajectoryModule, batch: SceneBatch) -> list[ScenarioPrediction]:
    """One :class:`ScenarioPrediction` per scene of ``batch``, for its target agents, in the batch's
    (the dataset's) frame: trajectory ``[N, K, Tf, 2]`` m, probability ``[N, K]``, heading ``[N, K, Tf]``."""
    pred = module(batch)
    trajectory, probability = prediction_to_world(pred, batch)  # (B, A, K, Tf, 2), (B, A, K)
    heading = None
    if pred.heading is not None:
        now = batch.agent_heading[:, :, batch.current_step, None, None]  # (B, A, 1, 1)
        heading = wrap_angle(pred.heading.float() + now)  # (B, A, K, Tf)
    out = []
    for b, scenario_id in enumerate(batch.scenario_ids):
        rows = batch.target_mask[b] & batch.agent_mask[b]  # (A,)
        out.append(
            ScenarioPrediction(
                scenario_id=scenario_id,
                agent_ids=batch.agent_id[b, rows].cpu().numpy().astype(np.int64),
                trajectory=trajectory[b, rows].float().cpu().numpy(),
                probability=probability[b, rows].float().cpu().numpy(),
                heading=None if heading is None else heading[b, rows].cpu().numpy(),
            )
        )
    return out


@torch.no_grad()
def predict_scenarios(
    module: TrajectoryModule,
    scenarios: Iterable[Scenario],
    *,
    num_history_steps: int,
    num_future_steps: int,
    points_per_chunk: int = DEFAULT_POINTS_PER_CHUNK,
    map_keep_every: int = 1,
    batch_size: int = 16,
) -> Iterator[tuple[Scenario, ScenarioPrediction]]:
    """Each scenario cut to the model's window (the scene that is scored) with its prediction.
    The arguments after ``scenarios`` are the training data's window (``datamodule.window()``)."""
    module.eval()
    device = next(module.parameters()).device
    cropped = (
        thin_map(crop_scenario(s, num_history_steps, num_future_steps), map_keep_every) for s in scenarios
    )
    count = 0
    for scenes in _batches(cropped, batch_size):
        batch = collate_scenarios(scenes, points_per_chunk).to(device)
        for scene, prediction in zip(scenes, batch_predictions(module, batch)):
            count += 1
            yield scene, prediction
    if count == 0:
        raise DataError("no scenarios to predict")

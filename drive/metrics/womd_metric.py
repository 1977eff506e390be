"""Accumulates the WOMD motion metrics per object type and horizon (a torchmetrics ``Metric``).

Inputs are 2 Hz samples (see :mod:`drive.metrics.womd`); the overlap flags per sample come from
:func:`drive.metrics.womd_overlap.overlap_per_sample` because they need the whole scene.
Breakdown and averaging follow the challenge: every metric is computed per object type and horizon;
a horizon's value is the mean over object types, a type's value the mean over horizons, and the
overall value the mean over all (type, horizon) cells that have measurements.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from drive.data.schema import AGENT_TYPE_NAMES, AgentType
from drive.metrics.womd import MAX_PREDICTIONS, MEASUREMENT_STEPS, is_match, min_ade_fde, miss, speed_scale
from drive.metrics.womd_map import NUM_TRAJECTORY_TYPES, bucket_of, map_samples, mean_average_precision

# Order of the summed metrics in the ``value_sum`` / ``value_count`` states.
SUMMED = ("minADE", "minFDE", "miss_rate", "overlap_rate")
ALL_KEYS = (*SUMMED, "mAP", "soft_mAP")
HORIZONS = tuple(step.name for step in MEASUREMENT_STEPS)
SCORED_TYPES = (AgentType.VEHICLE, AgentType.PEDESTRIAN, AgentType.CYCLIST)


class WOMDMetrics(Metric):
    """``update(...)`` with one row per object; ``compute()`` -> nested dict of floats (see module doc).

    update arguments: trajectory ``[N, K, 16, 2]`` m (K <= 6, sorted by descending confidence),
    confidence ``[N, K]``, target ``[N, 16, 2]`` m, target_heading ``[N, 16]`` rad, target_valid
    ``[N, 16]`` bool, speed_mps ``[N]`` at the current step, object_type ``[N]`` (AgentType),
    trajectory_type ``[N]`` (TrajectoryType) with type_valid ``[N]`` bool, overlap ``[N, 16]`` bool.
    Sums and counts reduce with ``sum``; mAP samples are concatenated across processes.
    """

    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        shape = (len(AGENT_TYPE_NAMES), len(MEASUREMENT_STEPS), len(SUMMED))
        self.add_state("value_sum", torch.zeros(shape, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("value_count", torch.zeros(shape, dtype=torch.int64), dist_reduce_fx="sum")
        objects = (len(AGENT_TYPE_NAMES), len(MEASUREMENT_STEPS), NUM_TRAJECTORY_TYPES)
        self.add_state("map_objects", torch.zeros(objects, dtype=torch.int64), dist_reduce_fx="sum")
        # One row per mAP sample: object type, horizon, bucket, confidence, true positive, soft keep.
        for name in ("sample_cell", "sample_conf", "sample_tp", "sample_soft_keep"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(
        self,
        trajectory: Tensor,
        confidence: Tensor,
        target: Tensor,
        target_heading: Tensor,
        target_valid: Tensor,
        speed_mps: Tensor,
        object_type: Tensor,
        trajectory_type: Tensor,
        type_valid: Tensor,
        overlap: Tensor,
    ) -> None:
        trajectory, confidence = trajectory[:, :MAX_PREDICTIONS], confidence[:, :MAX_PREDICTIONS]
        scale = speed_scale(speed_mps.to(torch.float64)).to(trajectory.dtype)
        object_type = object_type.long()
        bucket = bucket_of(trajectory_type.long())
        for h, step in enumerate(MEASUREMENT_STEPS):
            min_ade, ade_ok, min_fde, fde_ok = min_ade_fde(trajectory, target, target_valid, step)
            matched = is_match(trajectory, target, target_heading, scale, step)  # (N, K)
            missed, miss_ok = miss(matched, target_valid, step)
            overlapped = overlap[:, : step.prediction_index + 1].any(-1).to(torch.float64)
            values = (min_ade, min_fde, missed, overlapped)
            masks = (ade_ok, fde_ok, miss_ok, torch.ones_like(miss_ok))
            for m, (value, mask) in enumerate(zip(values, masks)):
                self.value_sum[:, h, m] += torch.zeros(
                    len(AGENT_TYPE_NAMES), dtype=torch.float64, device=value.device
                ).index_add_(0, object_type[mask], value[mask].to(torch.float64))
                self.value_count[:, h, m] += torch.bincount(
                    object_type[mask], minlength=len(AGENT_TYPE_NAMES)
                )
            # mAP: objects with a trajectory type and a measurable match contribute their K modes.
            has_sample = type_valid & miss_ok
            tp, soft_keep = map_samples(matched)
            rows = has_sample.nonzero()[:, 0]
            k = confidence.shape[1]
            cell = (object_type[rows] * len(MEASUREMENT_STEPS) + h) * NUM_TRAJECTORY_TYPES + bucket[rows]
            self.map_objects.view(-1).index_add_(0, cell, torch.ones_like(cell))
            self.sample_cell.append(cell[:, None].expand(-1, k).reshape(-1))
            self.sample_conf.append(confidence[rows].reshape(-1).to(torch.float64))
            self.sample_tp.append(tp[rows].reshape(-1))
            self.sample_soft_keep.append(soft_keep[rows].reshape(-1))

    def _map_cells(self) -> dict[tuple[int, int], tuple[float, float]]:
        """(type, horizon) -> (mAP, soft mAP) for every cell with samples."""
        # After a distributed sync a list state may already be one concatenated tensor.
        if isinstance(self.sample_cell, list) and not self.sample_cell:
            return {}
        cell = dim_zero_cat(self.sample_cell).cpu().numpy()
        if cell.size == 0:
            return {}
        conf = dim_zero_cat(self.sample_conf).cpu().numpy()
        tp = dim_zero_cat(self.sample_tp).cpu().numpy().astype(bool)
        keep = dim_zero_cat(self.sample_soft_keep).cpu().numpy().astype(bool)
        objects = self.map_objects.cpu().numpy()
        result = {}
        type_horizon = cell // NUM_TRAJECTORY_TYPES
        bucket = cell % NUM_TRAJECTORY_TYPES
        for th in np.unique(type_horizon):
            t, h = divmod(int(th), len(MEASUREMENT_STEPS))
            sel = type_horizon == th
            hard = mean_average_precision(bucket[sel], conf[sel], tp[sel], objects[t, h])
            soft_sel = sel & keep
            soft = mean_average_precision(bucket[soft_sel], conf[soft_sel], tp[soft_sel], objects[t, h])
            result[(t, h)] = (hard, soft)
        return result

    def compute(self) -> dict:
        """``{"by_type_horizon": {type: {horizon: {key: value}}}, "by_type": ..., "by_horizon": ...,
        "overall": {key: value}}``; cells without measurements are left out."""
        sums, counts = self.value_sum.cpu().numpy(), self.value_count.cpu().numpy()
        maps = self._map_cells()
        cells: dict[tuple[int, int], dict[str, float]] = {}
        for t in range(len(AGENT_TYPE_NAMES)):
            for h in range(len(MEASUREMENT_STEPS)):
                values = {
                    key: sums[t, h, m] / counts[t, h, m] for m, key in enumerate(SUMMED) if counts[t, h, m]
                }
                if (t, h) in maps:
                    values["mAP"], values["soft_mAP"] = maps[(t, h)]
                if counts[t, h, 2] or counts[t, h, 0]:
                    cells[(t, h)] = {k: float(v) for k, v in values.items()}
        return summarize_cells(cells)


def _mean_over(cells: list[dict[str, float]]) -> dict[str, float]:
    return {
        key: float(np.mean([c[key] for c in cells if key in c]))
        for key in ALL_KEYS
        if any(key in c for c in cells)
    }


def summarize_cells(cells: dict[tuple[int, int], dict[str, float]]) -> dict:
    """Per-type, per-horizon and overall means of per-(type, horizon) cell values. Objects of type OTHER
    get their own row but stay out of the horizon and overall means, as the challenge reports only
    vehicles, pedestrians and cyclists."""
    by_type_horizon: dict[str, dict[str, dict[str, float]]] = {}
    for (t, h), values in sorted(cells.items()):
        by_type_horizon.setdefault(AGENT_TYPE_NAMES[t], {})[HORIZONS[h]] = values
    by_type = {name: _mean_over(list(per_h.values())) for name, per_h in by_type_horizon.items()}
    by_horizon = {}
    for h, horizon in enumerate(HORIZONS):
        at_h = [values for (t, hh), values in cells.items() if hh == h and t in SCORED_TYPES]
        if at_h:
            by_horizon[horizon] = _mean_over(at_h)
    return {
        "overall": _mean_over([values for (t, _), values in cells.items() if t in SCORED_TYPES]),
        "by_horizon": by_horizon,
        "by_type": by_type,
        "by_type_horizon": by_type_horizon,
    }

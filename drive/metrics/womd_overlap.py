"""WOMD overlap: whether an object's most confident predicted trajectory overlaps another object.

As ``ComputeOverlapRate`` in waymo-open-dataset ``metrics/motion_metrics.cc``: the predicted box at
each 2 Hz sample is centred on the predicted point, oriented along the predicted path (forward
difference at the first sample, backward at the last, the mean of both inside), and sized like the
object; it overlaps when its intersection area with the ground-truth box of any *other* object that
is valid at the current step (and at that sample) is > 0. The per-horizon overlap is "any overlap at
samples 0..horizon". Inside the path the two directions are averaged as unit vectors, which equals
the plain mean of the two angles except where they straddle +-pi (where the plain mean points
backwards).
"""

from __future__ import annotations

import numpy as np
import shapely


def path_heading(path_xy: np.ndarray) -> np.ndarray:
    """Heading ``[P]`` rad of each sample of ``path_xy [P, 2]`` (P >= 2) from finite differences."""
    step = np.diff(path_xy, axis=0)  # (P-1, 2)
    angle = np.arctan2(step[:, 1], step[:, 0])
    heading = np.empty(len(path_xy))
    heading[0] = angle[0]
    heading[-1] = angle[-1]
    inner_sum = np.stack([np.cos(angle[:-1]) + np.cos(angle[1:]), np.sin(angle[:-1]) + np.sin(angle[1:])])
    heading[1:-1] = np.arctan2(inner_sum[1], inner_sum[0])
    return heading


def box_corners(center: np.ndarray, heading: np.ndarray, length: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Corners ``[..., 4, 2]`` of oriented boxes; center ``[..., 2]``, heading/length/width ``[...]``."""
    cos, sin = np.cos(heading)[..., None], np.sin(heading)[..., None]
    half_l, half_w = (length / 2)[..., None], (width / 2)[..., None]
    sx = np.array([1.0, -1.0, -1.0, 1.0])
    sy = np.array([1.0, 1.0, -1.0, -1.0])
    local_x, local_y = sx * half_l, sy * half_w  # (..., 4)
    x = center[..., 0:1] + cos * local_x - sin * local_y
    y = center[..., 1:2] + sin * local_x + cos * local_y
    return np.stack([x, y], axis=-1)


def overlap_per_sample(
    path_xy: np.ndarray,
    size_lw: np.ndarray,
    other_xy: np.ndarray,
    other_heading: np.ndarray,
    other_size_lw: np.ndarray,
    other_valid: np.ndarray,
) -> np.ndarray:
    """Overlap flag ``[P]`` for each sample of one predicted path.

    path_xy ``[P, 2]`` m; size_lw ``[2]`` length, width of the predicted object; other_xy ``[M, P, 2]``,
    other_heading ``[M, P]``, other_size_lw ``[M, 2]``, other_valid ``[M, P]`` bool: the other objects'
    ground truth at the same samples (only objects valid at the current step belong here).
    """
    num_samples = len(path_xy)
    result = np.zeros(num_samples, dtype=bool)
    if other_xy.shape[0] == 0 or num_samples < 2:
        return result
    heading = path_heading(path_xy)
    radius = 0.5 * np.hypot(size_lw[0], size_lw[1])
    other_radius = 0.5 * np.hypot(other_size_lw[:, 0], other_size_lw[:, 1])  # (M,)
    near = other_valid & (
        np.linalg.norm(other_xy - path_xy[None], axis=-1) <= radius + other_radius[:, None]
    )  # (M, P)
    other_idx, sample_idx = np.nonzero(near)
    if other_idx.size == 0:
        return result
    mine = box_corners(
        path_xy[sample_idx],
        heading[sample_idx],
        np.full(len(sample_idx), size_lw[0]),
        np.full(len(sample_idx), size_lw[1]),
    )
    theirs = box_corners(
        other_xy[other_idx, sample_idx],
        other_heading[other_idx, sample_idx],
        other_size_lw[other_idx, 0],
        other_size_lw[other_idx, 1],
    )
    area = shapely.area(shapely.intersection(shapely.polygons(mine), shapely.polygons(theirs)))
    np.logical_or.at(result, sample_idx, area > 0)
    return result

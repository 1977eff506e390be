"""Configuration of :class:`drive.models.TrajectoryPredictor`: the one home of its defaults."""

from __future__ import annotations

from dataclasses import dataclass

from drive.errors import ConfigError
from drive.rope.rotation import LAYOUTS

ENCODINGS = ("drope_rope", "rope_2d", "rpe", "absolute", "se2")
LIKELIHOODS = ("laplace", "gaussian")
SCENE_ORIGINS = ("target_mean", "none")
ANCHORS = ("constant_velocity", "velocity_fan", "none")


def _fail(field: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"PredictorConfig.{field} = {value!r} is invalid: {allowed}")


@dataclass(frozen=True)
class PredictorConfig:
    """Model sizes, the position encoding and the output head.

    ``encoding`` selects how relative geometry enters attention (map, agent and decoder layers alike):
    ``drope_rope`` (RoPE on x/y in metres + DRoPE on heading), ``rope_2d`` (x/y RoPE only, heading as a
    token feature), ``rpe`` (QCNet-style explicit pairwise edges, O(N²) memory), ``absolute`` (scene
    positions and heading as token features, plain attention) and ``se2`` (exactly SE(2)-invariant
    linear-memory attention). ``xy_slots``/``heading_slots`` are rotary pairs per head for the rotary
    encodings; the remaining channels of each head are position-free. ``heading_heads > 0`` splits
    ``drope_rope`` by head instead: that many heads rotate all their pairs by heading, the others by x/y.
    By default each head gets its own wavelengths (every H-th of one ladder from ``min_wavelength_m`` to
    ``max_wavelength_m``); ``shared_wavelengths=True`` gives all heads the same ones, which saves the
    per-head angle memory (about a third of plain attention's at width 128, 8 heads).
    ``scene_origin`` chooses the point positions are measured from before they reach the encodings
    (``target_mean``: the mean current position of the scene's target agents, for float precision;
    ``none``: the data's own frame). ``anchor``: what the decoder's trajectories are offsets from —
    ``constant_velocity`` (each agent's current velocity extrapolated, in its own frame) starts every
    mode at the classic baseline, so a briefly trained model is not worse than it; ``velocity_fan`` gives
    each mode its own straight line instead: the current velocity turned by a learned angle and scaled by
    a learned factor, initialised on a grid of angles in ``±fan_max_angle_deg`` and speed factors in
    ``1 ± fan_speed_spread``, so the K modes start spread out rather than all on one line (the default:
    it beat ``constant_velocity`` on every headline metric of the demo); ``none``
    regresses positions directly. ``rotary_layout``: which channels every rotary attention pairs (see
    :mod:`drive.rope.rotation`); scores are the same either way up to a fixed permutation of the learned
    projections, and ``interleaved`` rotates in one pass over memory, ``half`` in three.
    """

    num_future_steps: int = 80
    encoding: str = "drope_rope"
    num_modes: int = 6
    hidden_dim: int = 128
    num_heads: int = 8
    num_temporal_layers: int = 1
    num_interaction_layers: int = 2
    num_decoder_layers: int = 1
    refine: bool = True
    dropout: float = 0.1
    xy_slots: int = 4
    heading_slots: int = 2
    heading_heads: int = 0
    shared_wavelengths: bool = False
    min_wavelength_m: float = 2.0
    max_wavelength_m: float = 400.0
    se2_pose_blocks: int = 2
    se2_rotation_pairs: int = 3
    se2_min_scale_m: float = 10.0
    se2_max_scale_m: float = 100.0
    se2_distance_scale_m: float = 10.0
    rpe_num_bands: int = 16
    radius_m: float | None = None
    likelihood: str = "laplace"
    scene_origin: str = "target_mean"
    anchor: str = "velocity_fan"
    fan_max_angle_deg: float = 30.0
    fan_speed_spread: float = 0.3
    num_agent_types: int = 4
    num_map_types: int = 7
    rotary_layout: str = "interleaved"

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise _fail("encoding", self.encoding, f"choose one of {', '.join(ENCODINGS)}")
        if self.likelihood not in LIKELIHOODS:
            raise _fail("likelihood", self.likelihood, f"choose one of {', '.join(LIKELIHOODS)}")
        if self.anchor not in ANCHORS:
            raise _fail("anchor", self.anchor, f"choose one of {', '.join(ANCHORS)}")
        if not 0.0 <= self.fan_max_angle_deg <= 180.0:
            raise _fail("fan_max_angle_deg", self.fan_max_angle_deg, "must be in [0, 180]")
        if not 0.0 <= self.fan_speed_spread < 1.0:
            raise _fail("fan_speed_spread", self.fan_speed_spread, "must be in [0, 1)")
        if self.rotary_layout not in LAYOUTS:
            raise _fail("rotary_layout", self.rotary_layout, f"choose one of {', '.join(LAYOUTS)}")
        if self.scene_origin not in SCENE_ORIGINS:
            raise _fail("scene_origin", self.scene_origin, f"choose one of {', '.join(SCENE_ORIGINS)}")
        positive = (
            "num_future_steps",
            "num_modes",
            "hidden_dim",
            "num_heads",
            "num_decoder_layers",
            "rpe_num_bands",
            "num_agent_types",
            "num_map_types",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _fail(name, value, "must be a positive integer")
        for name in (
            "num_temporal_layers",
            "num_interaction_layers",
            "xy_slots",
            "heading_slots",
            "heading_heads",
            "se2_pose_blocks",
            "se2_rotation_pairs",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _fail(name, value, "must be a non-negative integer")
        if self.hidden_dim % self.num_heads:
            raise _fail("hidden_dim", self.hidden_dim, f"must be divisible by num_heads={self.num_heads}")
        head_dim = self.hidden_dim // self.num_heads
        if self.xy_slots % 2:
            raise _fail("xy_slots", self.xy_slots, "must be even (x and y get half each)")
        if not 0 <= self.heading_heads < self.num_heads:
            raise _fail("heading_heads", self.heading_heads, f"must be in [0, num_heads={self.num_heads})")
        if self.encoding == "rope_2d" and (self.xy_slots + self.heading_slots) % 2:
            raise _fail(
                "heading_slots",
                self.heading_slots,
                "rope_2d puts xy_slots + heading_slots on x/y: need an even sum",
            )
        if self.heading_heads and self.shared_wavelengths:
            raise _fail("heading_heads", self.heading_heads, "cannot be combined with shared_wavelengths")
        if self.heading_heads and (self.xy_slots + self.heading_slots) % 2:
            raise _fail("heading_heads", self.heading_heads, "needs xy_slots + heading_slots even")
        if 2 * (self.xy_slots + self.heading_slots) > head_dim:
            raise _fail(
                "xy_slots",
                self.xy_slots,
                f"xy_slots + heading_slots must be <= head_dim / 2 = {head_dim // 2}",
            )
        if 3 * self.se2_pose_blocks + 2 * self.se2_rotation_pairs + 3 > head_dim:
            raise _fail(
                "se2_pose_blocks",
                self.se2_pose_blocks,
                f"3 * se2_pose_blocks + 2 * se2_rotation_pairs + 3 must be <= head_dim = {head_dim}",
            )
        if not 0 < self.min_wavelength_m <= self.max_wavelength_m:
            raise _fail("min_wavelength_m", self.min_wavelength_m, "need 0 < min_wavelength_m <= max")
        if not 0 < self.se2_min_scale_m <= self.se2_max_scale_m:
            raise _fail("se2_min_scale_m", self.se2_min_scale_m, "need 0 < se2_min_scale_m <= max")
        if self.se2_distance_scale_m <= 0:
            raise _fail("se2_distance_scale_m", self.se2_distance_scale_m, "must be > 0")
        if self.radius_m is not None and not self.radius_m > 0:
            raise _fail("radius_m", self.radius_m, "must be > 0 or None (no limit)")
        if not 0.0 <= self.dropout < 1.0:
            raise _fail("dropout", self.dropout, "must be in [0, 1)")

    @property
    def head_dim(self) -> int:
        return self.hidden_dim // self.num_heads

"""Published RoPE variants built on the core: frequency transforms, position generators and hooks.

Every variant reuses :func:`drive.rope.rope_angles` and :func:`drive.rope.rotate`; see
``docs/rope-variants.md`` for one entry per paper.
"""

from drive.rope.variants.anchor import anchor_packing, relative_score_drift
from drive.rope.variants.base_bound import (
    BaseBound,
    base_lower_bound,
    discrimination_curve,
    roformer_decay_bound,
)
from drive.rope.variants.elite import elite_frequencies, rank_elite_slots
from drive.rope.variants.hierarchical import (
    hierarchical_frequencies,
    hierarchical_positions,
    windowed_hierarchical_scores,
)
from drive.rope.variants.mla import DecoupledRotaryAttention
from drive.rope.variants.partial import proportional_frequencies
from drive.rope.variants.path_attention import (
    PathAttention,
    path_attention,
    path_scores_dense,
    path_scores_recurrent,
)
from drive.rope.variants.psc import PhaseShiftCalibration
from drive.rope.variants.recurrent_memory import RecurrentMemoryAttention
from drive.rope.variants.scaling import (
    dynamic_ntk_frequencies,
    dynamic_scale,
    interpolate_frequencies,
    llama3_frequencies,
    ntk_aware_base,
    ntk_aware_frequencies,
    ntk_by_parts_frequencies,
    yarn_attention_factor,
    yarn_correction_range,
    yarn_frequencies,
)
from drive.rope.variants.video import (
    TextSpan,
    VideoSpan,
    hope_frequencies,
    hope_positions,
    mrope_frequencies,
    mrope_positions,
    videorope_frequencies,
    videorope_positions,
    vrope_frequencies,
    vrope_positions,
)
from drive.rope.variants.vision import patch_positions, vit_axial_frequencies, vit_mixed_frequencies
from drive.rope.variants.windowed import windowed_rope_scores

__all__ = [
    "BaseBound",
    "DecoupledRotaryAttention",
    "PathAttention",
    "PhaseShiftCalibration",
    "RecurrentMemoryAttention",
    "TextSpan",
    "VideoSpan",
    "anchor_packing",
    "base_lower_bound",
    "discrimination_curve",
    "dynamic_ntk_frequencies",
    "dynamic_scale",
    "elite_frequencies",
    "hierarchical_frequencies",
    "hierarchical_positions",
    "hope_frequencies",
    "hope_positions",
    "interpolate_frequencies",
    "llama3_frequencies",
    "mrope_frequencies",
    "mrope_positions",
    "ntk_aware_base",
    "ntk_aware_frequencies",
    "ntk_by_parts_frequencies",
    "patch_positions",
    "path_attention",
    "path_scores_dense",
    "path_scores_recurrent",
    "proportional_frequencies",
    "rank_elite_slots",
    "roformer_decay_bound",
    "relative_score_drift",
    "videorope_frequencies",
    "videorope_positions",
    "vit_axial_frequencies",
    "vit_mixed_frequencies",
    "vrope_frequencies",
    "vrope_positions",
    "windowed_hierarchical_scores",
    "windowed_rope_scores",
    "yarn_attention_factor",
    "yarn_correction_range",
    "yarn_frequencies",
]

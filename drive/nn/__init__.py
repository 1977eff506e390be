"""Reusable layers: pose-aware attention variants, blocks, MLPs and embeddings.

Every pose-aware attention shares one call signature: ``forward(query [B, Nq, D], key_value [B, Nk, D],
query_pos [B, Nq, 2] m, query_heading [B, Nq] rad, key_pos [B, Nk, 2], key_heading [B, Nk],
key_padding_mask [B, Nk] | None, attn_mask [B, Nq, Nk] | None) -> [B, Nq, D]``.
"""

from drive.nn.block import AttentionBlock
from drive.nn.masking import attention_mask, radius_mask
from drive.nn.mlp import MLP, FourierEmbedding
from drive.nn.pose_rotary_attention import PoseRotaryAttention, pose_frequencies
from drive.nn.relative_pose_attention import RelativePoseAttention, relative_pose_descriptor
from drive.nn.se2_attention import SE2Attention

__all__ = [
    "MLP",
    "AttentionBlock",
    "FourierEmbedding",
    "PoseRotaryAttention",
    "RelativePoseAttention",
    "SE2Attention",
    "attention_mask",
    "pose_frequencies",
    "radius_mask",
    "relative_pose_descriptor",
]

"""Scene encoder: agent-step and map-chunk tokens, temporal attention, then map/agent interaction."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from drive.data.batch import SceneBatch
from drive.models.config import PredictorConfig
from drive.models.encodings import PoseFeatures, build_attention
from drive.models.features import (
    AGENT_FEATURE_DIM,
    MAP_POINT_FEATURE_DIM,
    agent_history,
    map_chunk_poses,
    map_points_local,
    scene_origin,
)
from drive.nn import MLP, AttentionBlock, radius_mask
from drive.rope import RotaryAttention, axial_frequencies, geometric_frequencies, rope_angles

TIME_BASE = 100.0  # RoPE base for time steps: the slowest slot turns once per ~600 steps


def time_frequencies(config: PredictorConfig) -> torch.Tensor:
    """``F [H, S, 1]`` for 1-D RoPE over step indices, rotating half of each head's channels."""
    slots = max(config.head_dim // 4, 1)
    return axial_frequencies([(0, geometric_frequencies(slots, TIME_BASE))], 1, config.num_heads)


@dataclass
class EncodedScene:
    """Encoder output. agent_history ``[B, A, Th, D]``, history_valid ``[B, A, Th]``, agent ``[B, A, D]``,
    agent_pos ``[B, A, 2]`` m (from the scene origin), agent_heading ``[B, A]``, agent_mask ``[B, A]``
    (valid at the current step), map ``[B, M, D]``, map_pos ``[B, M, 2]``, map_heading ``[B, M]``,
    map_mask ``[B, M]``, time_angle ``[Th, H, S]``."""

    agent_history: torch.Tensor
    history_valid: torch.Tensor
    agent: torch.Tensor
    agent_pos: torch.Tensor
    agent_heading: torch.Tensor
    agent_mask: torch.Tensor
    map: torch.Tensor
    map_pos: torch.Tensor
    map_heading: torch.Tensor
    map_mask: torch.Tensor
    time_angle: torch.Tensor


class TemporalEncoder(nn.Module):
    """Causal self-attention over each agent's history with 1-D RoPE on the step index.

    ``forward(x [B, A, Th, D], valid [B, A, Th], time_angle [Th, H, S]) -> [B, A, Th, D]``.
    """

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        d, h = config.hidden_dim, config.num_heads
        self.blocks = nn.ModuleList(
            [
                AttentionBlock(
                    RotaryAttention(d, h, dropout=config.dropout, layout=config.rotary_layout),
                    d,
                    config.dropout,
                    cross=False,
                )
                for _ in range(config.num_temporal_layers)
            ]
        )

    def forward(self, x: torch.Tensor, valid: torch.Tensor, time_angle: torch.Tensor) -> torch.Tensor:
        b, a, th, d = x.shape
        flat = x.reshape(b * a, th, d)  # (B*A, Th, D)
        angle = time_angle.expand(b * a, -1, -1, -1)  # (B*A, Th, H, S)
        causal = torch.ones(th, th, dtype=torch.bool, device=x.device).tril()
        causal = causal.expand(b * a, -1, -1)  # (B*A, Th, Th)
        key_mask = valid.reshape(b * a, th)
        for block in self.blocks:
            flat = block(flat, None, angle, angle, key_padding_mask=key_mask, attn_mask=causal)
        return flat.view(b, a, th, d)


class SceneEncoder(nn.Module):
    """``forward(batch) -> EncodedScene``: tokens, temporal attention, then ``num_interaction_layers``
    rounds of map self-attention, agent-to-map and agent-to-agent attention with the chosen encoding."""

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        d = config.hidden_dim
        self.config = config
        self.agent_mlp = MLP(AGENT_FEATURE_DIM, d, d)
        self.agent_type = nn.Embedding(config.num_agent_types, d)
        self.point_mlp = MLP(MAP_POINT_FEATURE_DIM, d, d)
        self.map_mlp = MLP(d, d, d)
        self.map_type = nn.Embedding(config.num_map_types, d)
        self.agent_pose_features = PoseFeatures(config)
        self.map_pose_features = PoseFeatures(config)
        self.temporal = TemporalEncoder(config)
        self.register_buffer("time_freqs", time_frequencies(config), persistent=False)

        def blocks(cross: bool) -> nn.ModuleList:
            return nn.ModuleList(
                [
                    AttentionBlock(build_attention(config), d, config.dropout, cross=cross)
                    for _ in range(config.num_interaction_layers)
                ]
            )

        self.map_self, self.agent_map, self.agent_agent = blocks(False), blocks(True), blocks(False)

    def _map_tokens(self, batch: SceneBatch, pos: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
        point_feats = self.point_mlp(map_points_local(batch, pos, heading))  # (B, M, P, D)
        point_feats = point_feats.masked_fill(~batch.map_point_mask[..., None], float("-inf"))
        pooled = point_feats.amax(dim=2)  # (B, M, D)
        pooled = torch.where(batch.map_mask[..., None], pooled, torch.zeros_like(pooled))
        return self.map_mlp(pooled) + self.map_type(batch.map_type)

    def forward(self, batch: SceneBatch) -> EncodedScene:
        cfg, now = self.config, batch.current_step
        origin = scene_origin(batch, cfg.scene_origin)  # (B, 2)
        feats, valid = agent_history(batch)  # (B, A, Th, F), (B, A, Th)
        agent_mask = valid[:, :, -1]  # (B, A)
        agent_pos = (batch.agent_pos[:, :, now] - origin[:, None]) * agent_mask[..., None]  # (B, A, 2)
        agent_heading = batch.agent_heading[:, :, now] * agent_mask  # (B, A)
        map_pos_raw, map_heading = map_chunk_poses(batch)
        map_mask = batch.map_mask
        map_pos = (map_pos_raw - origin[:, None]) * map_mask[..., None]  # (B, M, 2)

        tokens = self.agent_mlp(feats) + self.agent_type(batch.agent_type)[:, :, None]  # (B, A, Th, D)
        th = feats.shape[2]
        steps = torch.arange(th, device=feats.device, dtype=torch.float32)[:, None]  # (Th, 1)
        time_angle = rope_angles(steps, self.time_freqs)  # (Th, H, S)
        history = self.temporal(tokens, valid, time_angle)  # (B, A, Th, D)
        agent = self.agent_pose_features(history[:, :, -1], agent_pos, agent_heading)  # (B, A, D)
        road = self._map_tokens(batch, map_pos_raw, map_heading)  # (B, M, D)
        road = self.map_pose_features(road, map_pos, map_heading)

        mm = aa = am = None
        if cfg.radius_m is not None:
            mm = radius_mask(map_pos, map_pos, cfg.radius_m)
            am = radius_mask(agent_pos, map_pos, cfg.radius_m)
            aa = radius_mask(agent_pos, agent_pos, cfg.radius_m)
        map_pose, agent_pose = (map_pos, map_heading), (agent_pos, agent_heading)
        for map_self, agent_map, agent_agent in zip(self.map_self, self.agent_map, self.agent_agent):
            road = map_self(road, None, *map_pose, *map_pose, key_padding_mask=map_mask, attn_mask=mm)
            agent = agent_map(agent, road, *agent_pose, *map_pose, key_padding_mask=map_mask, attn_mask=am)
            agent = agent_agent(
                agent, None, *agent_pose, *agent_pose, key_padding_mask=agent_mask, attn_mask=aa
            )
        return EncodedScene(
            agent_history=history,
            history_valid=valid,
            agent=agent,
            agent_pos=agent_pos,
            agent_heading=agent_heading,
            agent_mask=agent_mask,
            map=road,
            map_pos=map_pos,
            map_heading=map_heading,
            map_mask=map_mask,
            time_angle=time_angle,
        )

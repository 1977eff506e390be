"""Mode decoder: K queries per agent attend to its history, the map and the other agents, then MLP heads
give trajectories in the agent's frame, scales, headings and mode logits; an optional second stage
refines the proposals."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from drive.models.config import PredictorConfig
from drive.models.encoder import EncodedScene
from drive.models.encodings import build_attention
from drive.nn import MLP, AttentionBlock, radius_mask
from drive.rope import RotaryAttention

_MIN_SCALE = 1e-3


class DecoderLayer(nn.Module):
    """One round for mode queries ``[B, A, K, D]``: history (time RoPE), map and agent cross-attention
    (chosen encoding, query pose = the agent's current pose), then self-attention among the K modes and
    one feed-forward. The cross-attention steps have no feed-forward of their own (as in MTR's decoder):
    with K queries per agent the decoder is the model's largest cost, and four feed-forwards a round
    were two thirds of it."""

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        d, h, p, layout = config.hidden_dim, config.num_heads, config.dropout, config.rotary_layout
        self.config = config
        self.history = AttentionBlock(
            RotaryAttention(d, h, dropout=p, layout=layout), d, p, cross=True, ffn_mult=0
        )
        self.map = AttentionBlock(build_attention(config), d, p, cross=True, ffn_mult=0)
        self.agents = AttentionBlock(build_attention(config), d, p, cross=True, ffn_mult=0)
        self.modes = AttentionBlock(RotaryAttention(d, h, dropout=p, layout=layout), d, p, cross=False)

    def forward(self, query: torch.Tensor, scene: EncodedScene) -> torch.Tensor:
        b, a, k, d = query.shape
        th = scene.agent_history.shape[2]
        flat = query.reshape(b * a, k, d)  # (B*A, K, D)
        history = scene.agent_history.reshape(b * a, th, d)  # (B*A, Th, D)
        now_angle = scene.time_angle[-1:].expand(b * a, k, -1, -1)  # (B*A, K, H, S)
        key_angle = scene.time_angle.expand(b * a, -1, -1, -1)  # (B*A, Th, H, S)
        flat = self.history(
            flat, history, now_angle, key_angle, key_padding_mask=scene.history_valid.reshape(b * a, th)
        )
        # Every mode query of an agent sits at the agent's pose.
        q_pos = scene.agent_pos[:, :, None].expand(-1, -1, k, -1).reshape(b, a * k, 2)  # (B, A*K, 2)
        q_heading = scene.agent_heading[:, :, None].expand(-1, -1, k).reshape(b, a * k)  # (B, A*K)
        pose = (q_pos, q_heading)
        to_map = to_agents = None
        if self.config.radius_m is not None:
            to_map = radius_mask(q_pos, scene.map_pos, self.config.radius_m)
            to_agents = radius_mask(q_pos, scene.agent_pos, self.config.radius_m)
        x = flat.view(b, a * k, d)  # (B, A*K, D)
        x = self.map(
            x,
            scene.map,
            *pose,
            scene.map_pos,
            scene.map_heading,
            key_padding_mask=scene.map_mask,
            attn_mask=to_map,
        )
        x = self.agents(
            x,
            scene.agent,
            *pose,
            scene.agent_pos,
            scene.agent_heading,
            key_padding_mask=scene.agent_mask,
            attn_mask=to_agents,
        )
        x = self.modes(x.view(b * a, k, d), None, None, None)  # (B*A, K, D)
        return x.view(b, a, k, d)


class OutputHead(nn.Module):
    """``[B, A, K, D] -> (trajectory [B, A, K, Tf, 2], scale [B, A, K, Tf, 2], heading [B, A, K, Tf],
    logit [B, A, K])``; a proposal head (``full=False``) returns None for scale and logit."""

    def __init__(self, config: PredictorConfig, full: bool = True) -> None:
        super().__init__()
        d, tf = config.hidden_dim, config.num_future_steps
        self.num_steps = tf
        self.trajectory = MLP(d, d, tf * 2)
        self.heading = MLP(d, d, tf)
        self.scale = MLP(d, d, tf * 2) if full else None
        self.logit = MLP(d, d, 1) if full else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        b, a, k, _ = x.shape
        trajectory = self.trajectory(x).view(b, a, k, self.num_steps, 2)
        if self.scale is None:
            return trajectory, None, self.heading(x), None
        scale = F.softplus(self.scale(x)).view(b, a, k, self.num_steps, 2) + _MIN_SCALE
        return trajectory, scale, self.heading(x), self.logit(x).squeeze(-1)


class ModeDecoder(nn.Module):
    """``forward(scene) -> (trajectory, scale, heading, logits)`` with the shapes of :class:`OutputHead`.

    Proposal stage: learned mode embeddings added to each agent's token, ``num_decoder_layers`` rounds.
    Refinement (``config.refine``): the proposal is embedded back into the queries, another round of
    layers runs, and the final trajectory is the proposal plus a predicted offset.
    """

    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        d = config.hidden_dim
        self.mode_embedding = nn.Parameter(torch.randn(config.num_modes, d) * 0.02)
        self.layers = nn.ModuleList([DecoderLayer(config) for _ in range(config.num_decoder_layers)])
        self.head = OutputHead(config, full=not config.refine)
        self.refine = config.refine
        if config.refine:
            self.proposal_embedding = MLP(config.num_future_steps * 2, d, d)
            self.refine_layers = nn.ModuleList(
                [DecoderLayer(config) for _ in range(config.num_decoder_layers)]
            )
            self.refine_head = OutputHead(config)

    def forward(self, scene: EncodedScene) -> tuple[torch.Tensor, ...]:
        query = scene.agent[:, :, None] + self.mode_embedding  # (B, A, K, D)
        for layer in self.layers:
            query = layer(query, scene)
        trajectory, scale, heading, logits = self.head(query)
        if not self.refine:
            return trajectory, scale, heading, logits
        query = query + self.proposal_embedding(trajectory.flatten(-2))  # (B, A, K, D)
        for layer in self.refine_layers:
            query = layer(query, scene)
        offset, scale, heading_offset, logits = self.refine_head(query)
        return trajectory + offset, scale, heading + heading_offset, logits

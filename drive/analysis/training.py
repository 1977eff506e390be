"""Small, self-contained training loops for analysis scripts: a trajectory model trained briefly on
simulated traffic (cached), data windows from any source, and minADE/minFDE/loss evaluation.

These serve the RoAd fine-tuning demonstration and the RoPE probe; full training is ``drive fit``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from drive.data.batch import collate_scenarios
from drive.data.schema import Scenario
from drive.datasets import iter_scenarios
from drive.errors import ConfigError, DataError
from drive.losses import future_in_agent_frame, prediction_loss
from drive.models import PredictorConfig, TrajectoryPredictor
from drive.training.scenes import crop_scenario, thin_map


@dataclass(frozen=True)
class QuickTrainSettings:
    """A small model and a short run: the window (Th, Tf steps), the simulation size and the budget."""

    num_history_steps: int = 8
    num_future_steps: int = 12
    num_scenes: int = 300
    scenes_per_run: int = 30
    sim_seed: int = 0
    seed: int = 0
    hidden_dim: int = 64
    num_heads: int = 4
    num_modes: int = 6
    encoding: str = "drope_rope"
    batch_size: int = 8
    lr: float = 1e-3
    max_steps: int = 600
    max_minutes: float = 2.0
    map_keep_every: int = 10

    def __post_init__(self) -> None:
        for name in ("num_history_steps", "num_future_steps", "num_scenes", "batch_size", "max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"QuickTrainSettings.{name} = {value!r} is invalid: must be an int >= 1")
        if not self.max_minutes > 0 or not self.lr > 0:
            raise ConfigError("QuickTrainSettings.max_minutes and lr must be > 0")

    def predictor_config(self) -> PredictorConfig:
        return PredictorConfig(
            num_future_steps=self.num_future_steps,
            encoding=self.encoding,
            num_modes=self.num_modes,
            hidden_dim=self.hidden_dim,
            num_heads=self.num_heads,
            dropout=0.0,
        )


def window_scenes(scenes: Iterable[Scenario], settings: QuickTrainSettings, limit: int | None = None):
    """Scenes cut to the settings' window (map thinned); scenes with no target left are skipped."""
    out = []
    for scene in scenes:
        try:
            cut = crop_scenario(scene, settings.num_history_steps, settings.num_future_steps)
        except DataError:
            continue
        out.append(thin_map(cut, settings.map_keep_every))
        if limit is not None and len(out) >= limit:
            break
    return out


def simulated_scenes(workdir: Path, settings: QuickTrainSettings, split: str) -> list[Scenario]:
    """Windows of the simulated traffic ``split`` (simulated into ``workdir/sim`` when missing)."""
    from drive.datasets.sumo import ensure_simulated

    root = ensure_simulated(
        workdir / "sim",
        settings.num_scenes,
        settings.sim_seed,
        scenes_per_run=settings.scenes_per_run,
        progress=False,
    )
    return window_scenes(iter_scenarios(root / split), settings)


def train(
    model: nn.Module,
    scenes: Sequence[Scenario],
    parameters: Iterable[nn.Parameter],
    *,
    batch_size: int,
    lr: float,
    max_steps: int,
    max_minutes: float,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Adam on ``parameters`` over random batches of ``scenes`` until ``max_steps`` or ``max_minutes``;
    returns the training losses."""
    params = [p for p in parameters if p.requires_grad]
    if not params:
        raise ConfigError("nothing to train: no parameter requires a gradient")
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    likelihood = getattr(getattr(model, "config", None), "likelihood", "laplace")
    losses, start = [], time.monotonic()
    model.train()
    for step in range(max_steps):
        pick = torch.randint(len(scenes), (batch_size,), generator=gen).tolist()
        batch = collate_scenarios([scenes[i] for i in pick])
        loss = prediction_loss(model(batch), batch, likelihood=likelihood)["loss"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step, losses[-1])
        if time.monotonic() - start > 60.0 * max_minutes:
            break
    model.eval()
    return losses


@torch.no_grad()
def evaluate(model: nn.Module, scenes: Sequence[Scenario], batch_size: int = 16) -> dict[str, float]:
    """Mean ``loss`` (per batch), ``minADE`` and ``minFDE`` (m, best of K modes, over target agents with
    a valid current step; steps without ground truth are left out)."""
    model.eval()
    likelihood = getattr(getattr(model, "config", None), "likelihood", "laplace")
    losses, ade, fde = [], [], []
    for start in range(0, len(scenes), batch_size):
        batch = collate_scenarios(list(scenes[start : start + batch_size]))
        pred = model(batch)
        losses.append(prediction_loss(pred, batch, likelihood=likelihood)["loss"].item())
        target, _, valid = future_in_agent_frame(batch, pred.trajectory.shape[3])[:3]
        steps = target.shape[2]
        dist = (pred.trajectory[..., :steps, :] - target[:, :, None]).norm(dim=-1)  # (B, A, K, Tf)
        w = valid[:, :, None].float()
        counted = batch.target_mask & valid.any(-1)  # (B, A)
        mean = (dist * w).sum(-1) / w.sum(-1).clamp_min(1.0)  # (B, A, K)
        last = torch.where(valid, torch.arange(steps), -1).amax(-1).clamp_min(0)  # (B, A)
        final = dist.gather(3, last[:, :, None, None].expand(-1, -1, dist.shape[2], 1))[..., 0]
        ade.append(mean.amin(-1)[counted])
        fde.append(final.amin(-1)[counted])
    return {
        "loss": sum(losses) / max(len(losses), 1),
        "minADE": float(torch.cat(ade).mean()) if ade else float("nan"),
        "minFDE": float(torch.cat(fde).mean()) if fde else float("nan"),
    }


def pretrained_on_simulation(
    workdir: Path, settings: QuickTrainSettings, log: Callable[[str], None] = print
) -> TrajectoryPredictor:
    """A model trained briefly on simulated traffic, cached as ``workdir/pretrained.pt`` (reused when its
    settings match)."""
    path = workdir / "pretrained.pt"
    if path.exists():
        stored = torch.load(path, weights_only=True)
        if stored.get("settings") == asdict(settings):
            model = TrajectoryPredictor(settings.predictor_config())
            model.load_state_dict(stored["state_dict"])
            log(f"pretrained model reused: {path}")
            return model.eval()
    torch.manual_seed(settings.seed)
    scenes = simulated_scenes(workdir, settings, "train")
    log(f"pretraining on {len(scenes)} simulated scenes for <= {settings.max_minutes} min")
    model = TrajectoryPredictor(settings.predictor_config())
    losses = train(
        model,
        scenes,
        model.parameters(),
        batch_size=settings.batch_size,
        lr=settings.lr,
        max_steps=settings.max_steps,
        max_minutes=settings.max_minutes,
        seed=settings.seed,
    )
    tail = losses[-20:]
    log(f"pretraining: {len(losses)} steps, loss {losses[0]:.3f} -> {sum(tail) / len(tail):.3f} (last 20)")
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"settings": asdict(settings), "state_dict": model.state_dict()}, tmp)
    tmp.replace(path)
    return model

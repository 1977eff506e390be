"""ETH/UCY leave-one-out benchmark: train on the other four scenes, score best-of-20 ADE/FDE (the
minimum over the 20 samples per pedestrian, then averaged over pedestrians) on the held-out one.

Inputs never see a future position: the reader's velocities and headings are finite differences of
observed steps, and the model measures positions from the current step (its scene origin is the mean
*current* position of the targets, each agent's frame is its current pose).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from drive.benchmarks.training import TrainSettings, predict, prepare_scenes, train_predictor
from drive.data.schema import Scenario
from drive.errors import ConfigError
from drive.evaluation import ScenarioPrediction, constant_velocity, evaluate, velocity_fan
from drive.evaluation.mode_clustering import cluster_modes
from drive.metrics.displacement import top_k_modes
from drive.models import PredictorConfig, TrajectoryPredictor
from drive.training.scenes import mirror_scenario, scale_scenario

try:  # the per-source DataModules live in drive.training.sources; older trees keep them in datamodule
    from drive.training.sources import EthUcyDataModule
except ImportError:
    from drive.training.datamodule import EthUcyDataModule

HISTORY, FUTURE, NUM_SAMPLES = 8, 12, 20
METRIC_KEYS = ("ADE_20", "FDE_20")

# Published leave-one-out averages (minADE_20 / minFDE_20, metres) to place results against.
PUBLISHED = (
    ("Social-GAN", 0.58, 1.18),
    ("Social-STGCNN", 0.44, 0.75),
    ("Trajectron++ (leak-free, corrected)", 0.32, 0.55),
    ("AgentFormer (corrected)", 0.23, 0.39),
    ("EqMotion", 0.21, 0.35),
    ("LED", 0.21, 0.33),
)


# Views of a scene for test-time pooling: name -> (scene transform, map from the view's frame back to the
# scene's, applied to predicted positions [..., 2]). Reflection and scaling are linear about the frame
# origin, so their inverses are too; the model measures positions from the targets' mean, so the origin
# itself does not matter.
View = tuple[Callable[[Scenario], Scenario], Callable[[np.ndarray], np.ndarray]]


def _view(mirror: bool, factor: float) -> View:
    flip = np.array([1.0, -1.0 if mirror else 1.0], dtype=np.float32)

    def transform(scene: Scenario) -> Scenario:
        scene = mirror_scenario(scene) if mirror else scene
        return scene if factor == 1.0 else scale_scenario(scene, factor)

    return transform, lambda xy: xy * flip / np.float32(factor)


VIEWS: dict[str, View] = {
    "identity": _view(False, 1.0),
    "mirror": _view(True, 1.0),
    "scale_0.9": _view(False, 0.9),
    "scale_1.1": _view(False, 1.1),
    "mirror_scale_0.9": _view(True, 0.9),
    "mirror_scale_1.1": _view(True, 1.1),
}

# How the NUM_SAMPLES scored forecasts are drawn from the model: ``top`` keeps the most probable modes
# (all of them when the model has NUM_SAMPLES); the others pool the modes of the listed views (equal
# weight per view) and cluster their endpoints down to NUM_SAMPLES (drive.evaluation.mode_clustering).
SELECTIONS: dict[str, tuple[str, ...]] = {
    "top": ("identity",),
    "cluster": ("identity",),
    "cluster_mirror": ("identity", "mirror"),
    "cluster_mirror_scale": tuple(VIEWS),
}


def _check_selection(selection: str) -> None:
    if selection not in SELECTIONS:
        raise ConfigError(f"selection = {selection!r} is invalid: choose one of {', '.join(SELECTIONS)}")


def predict_views(
    model: TrajectoryPredictor,
    scenes: Sequence[Scenario],
    views: Sequence[str],
    batch_size: int = 64,
    device: str = "cpu",
) -> list[list[ScenarioPrediction]]:
    """Per view, world-frame predictions for every scene, mapped back to the scene's own frame (headings
    are dropped: the pooled forecasts are scored on positions)."""
    out = []
    for name in views:
        transform, back = VIEWS[name]
        predictions = predict(model, [transform(s) for s in scenes], batch_size=batch_size, device=device)
        out.append(
            [
                ScenarioPrediction(p.scenario_id, p.agent_ids, back(p.trajectory), p.probability)
                for p in predictions
            ]
        )
    return out


def select_samples(
    per_view: Sequence[Sequence[ScenarioPrediction]], selection: str, num_samples: int = NUM_SAMPLES
) -> list[ScenarioPrediction]:
    """``num_samples`` forecasts per agent from :func:`predict_views`'s output for ``SELECTIONS[selection]``
    (in that order): the most probable modes of the first view (``top``), or the pooled views' modes
    clustered by endpoint. Trajectories ``[N, num_samples, Tf, 2]``."""
    _check_selection(selection)
    out = []
    for views in zip(*per_view):
        first = views[0]
        if any(not np.array_equal(v.agent_ids, first.agent_ids) for v in views):
            raise ConfigError(f"scenario {first.scenario_id!r}: views predicted different agents")
        trajectory = torch.from_numpy(np.concatenate([v.trajectory for v in views], axis=1))
        probability = torch.from_numpy(np.concatenate([v.probability for v in views], axis=1) / len(views))
        if selection == "top":
            trajectory, probability = top_k_modes(trajectory, probability, num_samples)
        else:
            trajectory, probability = cluster_modes(trajectory, probability, num_samples)
        out.append(
            ScenarioPrediction(first.scenario_id, first.agent_ids, trajectory.numpy(), probability.numpy())
        )
    return out


def score_selections(
    models: TrajectoryPredictor | Sequence[TrajectoryPredictor],
    scenes: Sequence[Scenario],
    selections: Sequence[str],
    device: str = "cpu",
) -> dict[str, dict[str, float]]:
    """ADE_20 / FDE_20 of each selection, every view predicted once per model. Several ``models`` are an
    ensemble: each selection pools the views of all of them (equal weight per model and view)."""
    for selection in selections:
        _check_selection(selection)
    models = [models] if isinstance(models, TrajectoryPredictor) else list(models)
    views = list(dict.fromkeys(v for s in selections for v in SELECTIONS[s]))
    predicted = [dict(zip(views, predict_views(m, scenes, views, device=device))) for m in models]
    return {
        s: score(scenes, select_samples([p[v] for p in predicted for v in SELECTIONS[s]], s))
        for s in selections
    }


def save_model(model: TrajectoryPredictor, info: dict[str, float], path: str | Path) -> None:
    """The trained model's config, weights and training facts (``train_s``, ``final_loss``), plain data
    only, so :func:`load_model` reads it with ``weights_only=True``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.config), "state_dict": state, "info": dict(info)}, path)


def load_model(path: str | Path, device: str = "cpu") -> tuple[TrajectoryPredictor, dict[str, float]]:
    """A model saved by :func:`save_model` (eval mode, on ``device``) and its training facts."""
    if not Path(path).is_file():
        raise ConfigError(f"{path}: no such model file (keep models with --save-models / save_model)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model = TrajectoryPredictor(PredictorConfig(**saved["config"]))
        model.load_state_dict(saved["state_dict"])
    except (OSError, EOFError, KeyError, TypeError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        raise ConfigError(
            f"{path}: not a model saved by drive.benchmarks.eth_ucy.save_model ({err})"
        ) from err
    return model.to(device).eval(), dict(saved.get("info", {}))


def load_windows(root: str, scene: str, split: str, limit: int | None = None):
    """Prepared windows of one part of the leave-one-out split that holds out ``scene``: ``train``, ``val``
    (the training scenes' validation files: for choosing a configuration without looking at the test
    scene) or ``test`` (the held-out scene)."""
    data = EthUcyDataModule(root=root, scene=scene, num_history_steps=HISTORY, num_future_steps=FUTURE)
    return prepare_scenes(data.load_split(split)[:limit], HISTORY, FUTURE)


def load_scene(root: str, scene: str, max_train: int | None = None, max_test: int | None = None):
    """``(train, test)`` prepared windows of the leave-one-out split that holds out ``scene``."""
    return load_windows(root, scene, "train", max_train), load_windows(root, scene, "test", max_test)


def score(test, predictions) -> dict[str, float]:
    metrics = evaluate(test, predictions).metrics
    return {key: metrics[key] for key in METRIC_KEYS}


def run_scene(
    root: str,
    scene: str,
    config: PredictorConfig,
    settings: TrainSettings,
    max_train: int | None = None,
    max_test: int | None = None,
    device: str = "cpu",
    validate: bool = False,
    selection: str = "top",
    compare_selections: bool = False,
    save_model_to: str | Path | None = None,
    load_model_from: str | Path | Sequence[str | Path] | None = None,
) -> dict:
    """Train on ``scene``'s leave-one-out training split and score the model and two baselines on the
    held-out scene: constant velocity (20 identical samples, so its best-of-20 equals its single-sample
    error) and the untrained velocity fan (20 lines: the model's initial ``velocity_fan`` anchor with the
    config's angles and speeds, so the table shows what training adds to it). ``validate`` also scores
    the model on the split's ``val`` files (``model_val``). The model predicts ``config.num_modes``
    modes, raised to 20 when fewer; ``selection`` (a key of :data:`SELECTIONS`) draws the 20 scored
    samples from them, and ``compare_selections`` scores every selection on the same model
    (``selections``: name -> ``{"test", "val"}``). ``save_model_to`` keeps the trained model (see
    :func:`save_model`); ``load_model_from`` scores a saved model instead of training one (its config
    and training facts come from the file), so other selections can be scored without retraining; a list
    of files scores their ensemble (``ensemble_size``; ``train_s`` is their sum)."""
    _check_selection(selection)
    train, test = load_scene(root, scene, max_train, max_test)
    if load_model_from is not None:
        paths = [load_model_from] if isinstance(load_model_from, (str, Path)) else list(load_model_from)
        if not paths:
            raise ConfigError("load_model_from: no model files")
        loaded = [load_model(path, device) for path in paths]
        for path, (model, _) in zip(paths, loaded):
            if model.config.num_future_steps != FUTURE or model.config.num_modes < NUM_SAMPLES:
                raise ConfigError(
                    f"{path}: the model predicts {model.config.num_modes} modes of "
                    f"{model.config.num_future_steps} steps; ETH/UCY needs {FUTURE} steps and >= "
                    f"{NUM_SAMPLES} modes"
                )
        models = [model for model, _ in loaded]
        config = models[0].config
        info = {"train_s": sum(i.get("train_s", 0.0) for _, i in loaded)}
        if len(paths) > 1:
            info["ensemble_size"] = len(paths)
        else:
            info = loaded[0][1]
    else:
        config = replace(config, num_future_steps=FUTURE, num_modes=max(config.num_modes, NUM_SAMPLES))
        model, info = train_predictor(config, train, settings, device=device)
        models = [model]
        if save_model_to is not None:
            save_model(model, info, save_model_to)
    scored = tuple(SELECTIONS) if compare_selections else (selection,)
    start = time.perf_counter()
    test_scores = score_selections(models, test, scored, device)
    eval_s = time.perf_counter() - start
    val_scores: dict[str, dict[str, float]] = {}
    if validate:
        val = load_windows(root, scene, "val", max_test)
        info = {**info, "num_val_windows": len(val)}
        val_scores = score_selections(models, val, scored, device)
        info["model_val"] = val_scores[selection]
    baseline = score(test, lambda s: constant_velocity(s, FUTURE, NUM_SAMPLES))
    fan = score(
        test,
        lambda s: velocity_fan(s, FUTURE, NUM_SAMPLES, config.fan_max_angle_deg, config.fan_speed_spread),
    )
    row = {
        "scene": scene,
        "num_train_windows": len(train),
        "num_test_windows": len(test),
        **info,
        "eval_s": eval_s,
        "model": test_scores[selection],
        "constant_velocity": baseline,
        "velocity_fan": fan,
    }
    if compare_selections:
        row["selections"] = {
            s: {"test": test_scores[s], **({"val": val_scores[s]} if validate else {})} for s in scored
        }
    return row

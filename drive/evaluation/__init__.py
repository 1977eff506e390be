"""Evaluation: the predictions file, official submission formats, baselines and the evaluator."""

from drive.evaluation.baselines import constant_velocity, velocity_fan
from drive.evaluation.evaluator import evaluate
from drive.evaluation.predictions import ScenarioPrediction, load_predictions, save_predictions
from drive.evaluation.result import EvaluationResult

__all__ = [
    "EvaluationResult",
    "ScenarioPrediction",
    "constant_velocity",
    "velocity_fan",
    "evaluate",
    "load_predictions",
    "save_predictions",
]

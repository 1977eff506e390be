"""Trajectory models: encoders, decoder and the predictor (composition of :mod:`drive.nn` layers)."""

from drive.models.config import ENCODINGS, LIKELIHOODS, PredictorConfig
from drive.models.predictor import Prediction, TrajectoryPredictor, prediction_to_world

__all__ = [
    "ENCODINGS",
    "LIKELIHOODS",
    "Prediction",
    "PredictorConfig",
    "TrajectoryPredictor",
    "prediction_to_world",
]

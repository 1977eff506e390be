"""Training losses (pure functions)."""

from drive.losses.prediction import best_mode, future_in_agent_frame, nll, prediction_loss

__all__ = ["best_mode", "future_in_agent_frame", "nll", "prediction_loss"]

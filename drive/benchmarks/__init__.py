"""Helpers shared by the ``scripts/bench_*.py`` benchmarks: machine facts, synthetic scenes, rigid
motions of scenes, a lean training loop and mean ± std aggregation."""

from drive.benchmarks.facts import machine_facts
from drive.benchmarks.rigid import random_rigid_motion, rigid_motion
from drive.benchmarks.stats import mean_std
from drive.benchmarks.synthetic import synthetic_scene

__all__ = ["machine_facts", "mean_std", "random_rigid_motion", "rigid_motion", "synthetic_scene"]

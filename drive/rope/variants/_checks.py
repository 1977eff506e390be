"""Argument checks shared by the variant modules: errors name the field, the value and what is allowed."""

from __future__ import annotations

from drive.errors import ConfigError


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return value


def non_negative_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a non-negative int, got {value!r}")
    return value


def positive_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def scale_factor(name: str, value: object) -> float:
    """Context-scale factors are ``s >= 1``: ``s = 1`` is the trained context, larger extends it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1.0:
        raise ConfigError(f"{name} must be a number >= 1 (1 = no extension), got {value!r}")
    return float(value)


def base_value(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 1.0:
        raise ConfigError(f"base must be a number > 1, got {value!r}")
    return float(value)

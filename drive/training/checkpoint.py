"""What a training checkpoint promises, and loading one safely.

Every checkpoint carries ``drive_checkpoint = {"schema_version", "model_class"}`` and plain
hyperparameters (dicts, strings, numbers), so it loads with ``torch.load(..., weights_only=True)``.
A file from another model, from before this schema, or with unsafe pickled objects is refused with a
:class:`~drive.errors.CheckpointError` that says which.

Schema 2: decoder rounds have one feed-forward (schema 1 had one per attention step) and the config
records ``rotary_layout``; schema 1 weights do not fit this model.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from drive.errors import CheckpointError

SCHEMA_VERSION = 2
MODEL_CLASS = "drive.models.TrajectoryPredictor"
META_KEY = "drive_checkpoint"


def checkpoint_meta() -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "model_class": MODEL_CLASS}


def check_meta(checkpoint: dict[str, Any], where: str) -> None:
    """Raise :class:`CheckpointError` unless ``checkpoint`` was written by this schema for this model."""
    meta = checkpoint.get(META_KEY)
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{where}: not a drive training checkpoint (no {META_KEY!r} entry); it may come from another "
            "codebase or a version older than checkpoint schema 1"
        )
    if meta.get("model_class") != MODEL_CLASS:
        raise CheckpointError(
            f"{where}: checkpoint holds model {meta.get('model_class')!r}, expected {MODEL_CLASS!r}"
        )
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise CheckpointError(
            f"{where}: checkpoint schema version {meta.get('schema_version')!r} is not supported "
            f"(this version reads schema {SCHEMA_VERSION}); retrain or convert it"
        )


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict at ``path``, loaded with ``weights_only=True``, checked by :func:`check_meta`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path}: refused to load objects that are not plain data ({first_line})"
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({err})") from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not a drive training checkpoint (holds {type(checkpoint).__name__})")
    check_meta(checkpoint, str(path))
    return checkpoint

"""Shared fixtures. Tests that read the real sample data skip with a reason when ../shared is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each xdist worker owns one core: torch's default of one thread per core would oversubscribe the
    # machine and make small ops orders of magnitude slower.
    import torch

    torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DRIVE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the calling test when that data is not present."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real sample data not found at {path} (../shared/data is absent on this machine)")
    return path


@pytest.fixture
def shared_data() -> Path:
    return shared_path()

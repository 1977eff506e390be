"""Tests here run single-threaded (see tests/threads.py)."""

from tests.threads import single_thread  # noqa: F401

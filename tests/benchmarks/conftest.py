"""Benchmark helpers run on tiny inputs: single-threaded, as in tests/threads.py."""

from tests.threads import single_thread  # noqa: F401

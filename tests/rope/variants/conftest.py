"""One intra-op thread per test: these tests are small, and on a shared two-core machine a second
thread only adds contention (a 0.2 s base search took 6 s with two threads under load)."""

from tests.threads import single_thread  # noqa: F401

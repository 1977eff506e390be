"""One intra-op thread per test: these tests are small, and on a shared two-core machine a second
thread only adds contention (a 0.2 s base search took 6 s with two threads under load)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

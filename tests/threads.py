"""An autouse fixture for folders whose tests run single-threaded: their tensors are tiny, and on a busy
2-core machine OpenMP barriers between two intra-op threads cost seconds per test (measured: 12 s vs
0.04 s for one forward/backward of the small model). A folder opts in by importing it in its conftest."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

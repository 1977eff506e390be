"""The metric classes on a CUDA device give the CPU result (device-agnostic states and maths)."""

from __future__ import annotations

import pytest
import torch

from drive.metrics.av2 import AV2Metrics
from drive.metrics.womd_metric import WOMDMetrics
from tests.metrics.test_womd_metric import _case


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    case = _case()
    cpu, gpu = WOMDMetrics(), WOMDMetrics().to("cuda")
    cpu.update(**case)
    gpu.update(**{k: v.to("cuda") for k, v in case.items()})
    assert gpu.compute() == cpu.compute()
    args = (case["trajectory"], case["confidence"], case["target"], case["target_valid"])
    cpu_av2, gpu_av2 = AV2Metrics(6), AV2Metrics(6).to("cuda")
    cpu_av2.update(*args)
    gpu_av2.update(*(a.to("cuda") for a in args))
    for key, value in cpu_av2.compute().items():
        assert gpu_av2.compute()[key].item() == pytest.approx(value.item())

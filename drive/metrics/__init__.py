"""Trajectory-prediction metrics with the official definitions: pure functions plus torchmetrics
classes whose states reduce correctly under distributed evaluation.

- :mod:`drive.metrics.av2`: Argoverse 2 minADE_k, minFDE_k, MR_k, brier-minFDE_k.
- :mod:`drive.metrics.womd`, :mod:`drive.metrics.womd_map`, :mod:`drive.metrics.womd_overlap`,
  :mod:`drive.metrics.womd_metric`: Waymo Open Motion Dataset minADE, minFDE, miss rate, overlap
  rate, mAP and soft mAP.
- :mod:`drive.metrics.best_of_n`: ETH/UCY best-of-N ADE/FDE.
"""

from drive.metrics.av2 import AV2Metrics, av2_errors
from drive.metrics.best_of_n import BestOfNMetrics, best_of_n
from drive.metrics.womd_metric import WOMDMetrics

__all__ = ["AV2Metrics", "BestOfNMetrics", "WOMDMetrics", "av2_errors", "best_of_n"]

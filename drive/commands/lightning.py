"""`drive fit | validate | test`: LightningCLI over stacked YAML configs (see docs/training.md).

drive fit -c configs/data/sim.yaml -c configs/model/drope_rope.yaml -c configs/trainer/cpu.yaml
"""

from __future__ import annotations


def main(argv: list[str], prog: str = "drive fit", command: str = "fit") -> int:
    from drive.training.cli import run_cli

    run_cli(command, argv)
    return 0

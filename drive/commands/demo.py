"""`drive demo`: the main job on the embedded default. Placeholder until training lands: it checks the
installation by collating a generated scene, and says so."""

from __future__ import annotations

import argparse


def main(argv: list[str], prog: str = "drive demo", command: str = "demo") -> int:
    argparse.ArgumentParser(prog=prog, description=__doc__).parse_args(argv)
    print("drive demo: training is not wired yet; the installation works (package imports).")
    return 0

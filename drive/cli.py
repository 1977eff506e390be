"""The `drive` command line: one entry point, one module per subcommand under :mod:`drive.commands`.

Subcommand modules are imported lazily so `drive --help` and light commands start fast.
"""

from __future__ import annotations

import importlib
import os
import sys

from drive.errors import DriveError

# name -> (module under drive.commands, one-line help). Read-only: a subcommand is added here once.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "the main job: simulate traffic, train, evaluate and render on the embedded default"),
    "simulate": ("simulate", "generate simulated traffic scenes (SUMO) as WOMD Scenario TFRecords"),
    "inspect": ("inspect", "summarise scenarios in a WOMD / AV2 / ETH-UCY / simulated file or directory"),
    "cache": ("cache", "preprocess raw scenarios into the fast training cache"),
    "fit": ("lightning", "train a model (LightningCLI)"),
    "validate": ("lightning", "validate a model (LightningCLI)"),
    "test": ("lightning", "test a model (LightningCLI)"),
    "predict": ("predict", "write predictions of a checkpoint on a dataset"),
    "evaluate": ("evaluate", "score predictions with the official metric definitions"),
    "viz": ("viz", "render a scene as PNG, SVG, GIF, MP4 or interactive HTML"),
}


def _usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = ["usage: drive <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    lines += ["", "`drive <command> --help` describes each command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # The reader went away (`drive inspect ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _run(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from drive import __version__

        print(f"drive {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"drive: unknown command {name!r}; valid commands: {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"drive.commands.{SUBCOMMANDS[name][0]}")
    try:
        return int(module.main(rest, prog=f"drive {name}", command=name) or 0)
    except DriveError as err:
        # A deliberate error is shown as one line, not a traceback.
        print(f"drive {name}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

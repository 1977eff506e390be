import subprocess
import sys

from drive.cli import SUBCOMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


def test_unknown_command_names_the_valid_ones(capsys):
    assert main(["trian"]) == 2
    err = capsys.readouterr().err
    assert "'trian'" in err and "fit" in err


def test_console_script_runs_and_a_closed_pipe_is_no_traceback():
    done = subprocess.run([sys.executable, "-m", "drive", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("drive ")
    # `drive --help | head -1`: the reader closes early; the writer must stop without a traceback.
    shell = f"{sys.executable} -m drive inspect --help | head -c 1 >/dev/null"
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {shell}"], capture_output=True, text=True)
    assert "Traceback" not in done.stderr

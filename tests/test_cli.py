import subprocess
import sys

from drive.cli import SUBCOMMANDS, main
from tests.conftest import shared_path


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


def test_unknown_command_names_the_valid_ones(capsys):
    assert main(["trian"]) == 2
    err = capsys.readouterr().err
    assert "'trian'" in err and "fit" in err


def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "drive", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("drive ")


def test_a_closed_pipe_ends_quietly():
    # ~950 scenario summaries (far more than a pipe buffer); `head` closes the pipe after one byte.
    path = shared_path("eth_ucy", "univ", "test", "students001.txt")
    shell = f"{sys.executable} -m drive inspect {path} | head -c 1 >/dev/null"
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {shell}"], capture_output=True, text=True)
    assert done.returncode == 141 and "Traceback" not in done.stderr

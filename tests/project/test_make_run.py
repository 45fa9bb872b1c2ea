"""`make run` and Ctrl-C: make ends quietly, with 0, and every process of the recipe stops.

The recipe is driven on a pseudo-terminal as an interactive shell runs a job (its own session,
the terminal's foreground), and Ctrl-C is the ^C the terminal turns into SIGINT. A stand-in for
honcho does what honcho does with SIGINT (ends with 130); the real processes' stop is honcho's
and `run_cluster`'s (tests/engine/test_cluster.py).
"""

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

REPO = Path(__file__).resolve().parents[2]

# The job starts its work once the process beside it runs (its pid written), so that what the
# test checks, that the process beside is stopped, is there to check even when the job ends at once.
JOB = """
import os, signal, sys, time
signal.signal(signal.SIGINT, lambda *a: sys.exit(130))
give_up = time.monotonic() + 20
while not (os.path.exists(sys.argv[3]) and open(sys.argv[3]).read()) and time.monotonic() < give_up:
    time.sleep(0.05)
print("job ready", flush=True)
time.sleep(int(sys.argv[1]))
sys.exit(int(sys.argv[2]))
"""

BESIDE = """
import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(60)
"""

# The shape of the Makefile's run recipe: `exec` straight into tools.foreground.
MAKEFILE = """
run:
\texec env PYTHONPATH="$(REPO)" $(PYTHON) -m tools.foreground --beside \\
\t\t"$(PYTHON) $(DIR)/beside.py $(DIR)/beside.pid" $(PYTHON) $(DIR)/job.py $(SECONDS) $(STATUS) \\
\t\t$(DIR)/beside.pid
"""


def make_run(tmp_path: Path, *, seconds: int, status: int, ctrl_c: bool) -> tuple[int, str]:
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "beside.py").write_text(BESIDE)
    (tmp_path / "Makefile").write_text(MAKEFILE)
    command = ["make", "-s", "-C", str(tmp_path), "run", f"PYTHON={sys.executable}", f"REPO={REPO}"]
    command += [f"DIR={tmp_path}", f"SECONDS={seconds}", f"STATUS={status}"]
    pid, terminal = pty.fork()
    if pid == 0:  # the shell's job: its own session, the terminal's foreground
        os.execvp(command[0], command)  # noqa: S606 - make, found on PATH as a shell would
    output = b""
    give_up = time.monotonic() + 30
    pressed = False
    while time.monotonic() < give_up:
        ready, _, _ = select.select([terminal], [], [], 0.2)
        if ready:
            try:
                data = os.read(terminal, 4096)
            except OSError:  # the terminal's last process ended
                break
            if not data:
                break
            output += data
        if ctrl_c and not pressed and b"job ready" in output and beside_pid(tmp_path):
            os.write(terminal, b"\x03")
            pressed = True
    _, wait_status = os.waitpid(pid, 0)
    os.close(terminal)
    return os.waitstatus_to_exitcode(wait_status), output.decode(errors="replace")


def beside_pid(tmp_path: Path) -> int | None:
    path = tmp_path / "beside.pid"
    return int(path.read_text()) if path.exists() and path.read_text() else None


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_ctrl_c_ends_make_run_quietly_with_0_and_stops_what_it_started(tmp_path):
    status, output = make_run(tmp_path, seconds=60, status=0, ctrl_c=True)
    assert status == 0, output
    assert "Interrupt" not in output and "***" not in output, output
    assert gone(beside_pid(tmp_path))


def test_a_process_that_fails_still_fails_make_run(tmp_path):
    status, output = make_run(tmp_path, seconds=0, status=3, ctrl_c=False)
    assert status == 2, output
    assert re.search(r"\[Makefile:\d+: run\] Error 3", output), output
    assert gone(beside_pid(tmp_path))


def test_the_makefile_runs_honcho_through_the_foreground_launcher():
    recipe = (REPO / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"exec env .*tools\.foreground .*honcho start$", recipe, re.S), recipe


def test_without_a_terminal_the_job_still_gets_sigint_and_nothing_hangs(tmp_path):
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "beside.py").write_text(BESIDE)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.foreground", "--beside"]
        + [f"{sys.executable} {tmp_path}/beside.py {tmp_path}/beside.pid"]
        + [sys.executable, str(tmp_path / "job.py"), "60", "0", str(tmp_path / "beside.pid")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal; SIGINT goes to the whole group
    )
    assert process.stdout.readline() == b"job ready\n"
    while not beside_pid(tmp_path):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert gone(beside_pid(tmp_path))

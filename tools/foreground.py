"""`python -m tools.foreground [--beside CMD] COMMAND...`: COMMAND as the terminal's foreground job.

`make run` ends with Ctrl-C. The terminal sends SIGINT to its whole foreground process group,
make included, and GNU make answers any SIGINT by reporting its job ("make: *** [Makefile:NN:
run] Interrupt") and killing itself with the signal, whatever the job then does. So this puts
COMMAND in a process group of its own and hands the terminal to that group, as a shell does
with a job: Ctrl-C reaches COMMAND (honcho, which stops every process) and not make, which
then sees its recipe end with status 0. The terminal goes back to make's group at the end.

A Ctrl-C that ends COMMAND with 130 (or SIGINT) is the way to stop: this exits 0. Any other
status is passed on (a process that failed to start still fails `make run`). SIGTERM is passed
on to COMMAND. Ctrl-Z is ignored: a job the shell does not know about could not be resumed.

`--beside CMD` (a command line) runs beside COMMAND, deaf to Ctrl-C, and is ended with SIGTERM
when COMMAND ends (`announce_ready`: a shell's `&` would leave it running on after Ctrl-C).

Without a controlling terminal (or when make runs in the background) nothing is moved: a
SIGINT to the group then reaches make too, which ends without a message (this exits 0) but
with a signal's status.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess


def take_the_terminal() -> tuple[int, int] | None:
    """Make this process's new group the terminal's foreground; (tty, previous group) or None."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    previous = os.getpgrp()
    # make itself a background job: leave it so. A session leader cannot change its group.
    if os.tcgetpgrp(tty) != previous or os.getsid(0) == os.getpid():
        os.close(tty)
        return None
    os.setpgid(0, 0)
    hand_over(tty, os.getpgrp())
    return tty, previous


def hand_over(tty: int, group: int) -> None:
    # tcsetpgrp from a group that is not (or no longer) in the foreground raises SIGTTOU.
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):  # the previous group may be gone
            os.tcsetpgrp(tty, group)
    finally:
        signal.signal(signal.SIGTTOU, old)


def run(command: list[str], beside: list[str]) -> int:
    interrupted = False

    def note_interrupt(signum, frame):
        nonlocal interrupted
        interrupted = True  # COMMAND got the same SIGINT from the terminal: not passed on

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the --beside commands
    signal.signal(signal.SIGTSTP, signal.SIG_IGN)  # inherited by every child
    terminal = take_the_terminal()
    helpers = [subprocess.Popen(shlex.split(line)) for line in beside]
    signal.signal(signal.SIGINT, note_interrupt)  # COMMAND starts with the default
    try:
        job = subprocess.Popen(command)
        signal.signal(signal.SIGTERM, lambda signum, frame: job.send_signal(signal.SIGTERM))
        status = job.wait()
    finally:
        for helper in helpers:
            helper.terminate()
            helper.wait()
        if terminal:
            hand_over(*terminal)
            os.close(terminal[0])
    if interrupted and status in (130, -signal.SIGINT):
        return 0
    return status if status >= 0 else 128 - status


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.foreground", description=__doc__)
    parser.add_argument("--beside", action="append", default=[], metavar="CMD")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    arguments = parser.parse_args()
    if not arguments.command:
        parser.error("COMMAND is missing")
    return run(arguments.command, arguments.beside)


if __name__ == "__main__":
    raise SystemExit(main())

"""`manage.py announce_ready`: for `make run`, say where xSale is once it really answers.

`make run` prints the URLs before the processes start; gunicorn, both clusters and the sandbox
then fill the terminal with their start-up lines. This waits until the web answers and prints
the URLs again, then once a resync worker has reported, says the demo is ready. It ends there
(or after --timeout), and quietly on Ctrl-C.
"""

import contextlib
import time
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand

from integrations.presentation.health import resync_workers_seen
from integrations.services.demo import DEMO_USER


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
            return response.status < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except OSError:
        return False


class Command(BaseCommand):
    help = "Wait until the web answers (then until a resync worker reports) and print the URLs."

    def add_arguments(self, parser):
        parser.add_argument("--web-port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8100)
        parser.add_argument("--timeout", type=float, default=180.0)

    def handle(self, *args, web_port, sandbox_port, timeout, **options):
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C on make run: end quietly
            self.wait(web_port, sandbox_port, timeout)

    def wait(self, web_port: int, sandbox_port: int, timeout: float):
        web = f"http://127.0.0.1:{web_port}/"
        give_up = time.monotonic() + timeout
        while not answers(web + "login/"):
            if time.monotonic() > give_up:
                self.stderr.write(f"xSale did not answer at {web} within {timeout:.0f} s.")
                return
            time.sleep(0.5)
        self.stdout.write(self.urls(web, sandbox_port, "xSale answers:"))
        while not resync_workers_seen():
            if time.monotonic() > give_up:
                self.stderr.write("No resync worker reported: is the resync process running?")
                return
            time.sleep(1.0)
        self.stdout.write(self.urls(web, sandbox_port, "Ready: the resync workers run too."))

    def urls(self, web: str, sandbox_port: int, title: str) -> str:
        return "\n".join(
            [
                "",
                f"  {title}",
                f"  xSale (V2):      {web}",
                f"  Django admin:    {web}admin/",
                f"  Channel sandbox: http://127.0.0.1:{sandbox_port}/_sandbox/",
                f"  Login: {DEMO_USER[0]} / {DEMO_USER[1]}",
                "",
            ]
        )

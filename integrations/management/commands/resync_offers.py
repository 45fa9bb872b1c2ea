import sys
import time

from django.core.management.base import BaseCommand, CommandError

from integrations.models import Integration, ResyncRun
from integrations.resync import (
    ResyncAlreadyRunning,
    ResyncError,
    cancel_resync,
    retry_failed,
    start_resync,
)


def progress_line(run: ResyncRun) -> str:
    p = run.to_dict()
    eta = f" · ETA {p['eta_seconds']}s" if p["eta_seconds"] is not None else ""
    return (
        f"#{p['id']} {p['status']} {p['processed']}/{p['total']} ({p['percent']}%) "
        f"sent {p['sent']} failed {p['failed']} photos {p['photos_sent']} "
        f"· {p['rate_per_second']}/s{eta}"
    )


class Command(BaseCommand):
    help = "Resynchronize all active offers of one integration (the same service as the pages)."

    def add_arguments(self, parser):
        parser.add_argument("integration", help="the integration's name")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--status", action="store_true", help="show the latest run")
        action.add_argument("--cancel", action="store_true", help="cancel the running resync")
        action.add_argument(
            "--retry-failed",
            dest="retry",
            action="store_true",
            help="resend the offers the last run failed",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="follow the run until it ends (exit 0 only when it completed without failures)",
        )
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between lines")

    def handle(self, *args, integration, status, cancel, retry, wait, interval, **kw):
        try:
            target = Integration.objects.get(name=integration)
        except Integration.DoesNotExist:
            names = ", ".join(Integration.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f'No integration named "{integration}" (known: {names}).') from None
        latest = target.latest_run()

        if status or cancel:
            if latest is None:
                raise CommandError(f"{target.name} has never been resynchronized.")
            if cancel:
                if not cancel_resync(latest):
                    raise CommandError(f"No resync of {target.name} is running.")
                self.stdout.write(f"Cancel requested for resync #{latest.pk}.")
            else:
                self.stdout.write(progress_line(latest))
            if not wait:
                return
            run = latest
        else:
            try:
                if retry:
                    if latest is None:
                        raise CommandError(f"{target.name} has never been resynchronized.")
                    run = retry_failed(latest, user=None, source=ResyncRun.Source.CLI)
                else:
                    run = start_resync(target, user=None, source=ResyncRun.Source.CLI)
            except ResyncAlreadyRunning as exc:
                raise CommandError(f"{exc}\n{progress_line(exc.run)}") from None
            except ResyncError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Started resync #{run.pk} of {target.name}: {run.total} offers.")
        if wait:
            self._follow(run, interval)

    def _follow(self, run: ResyncRun, interval: float):
        while True:
            run.refresh_from_db()
            line = progress_line(run)
            self.stdout.write(line)
            sys.stdout.flush()
            if not run.is_active:
                break
            time.sleep(interval)
        if run.status != ResyncRun.Status.COMPLETED or run.failed:
            raise CommandError(
                f"Resync #{run.pk} ended {run.status} with {run.failed} failed offers."
                + (f" {run.error}" if run.error else "")
            )

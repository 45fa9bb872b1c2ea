"""`manage.py resync_offers NAME`: start, follow, cancel, resume or retry a resync.

The same services as the pages (integrations/services/). The command speaks one language (the
settings' default, or --language); it runs no worker, and while it follows a run no other logger
prints to its output.
"""

import getpass
import logging
import sys
import time
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils.translation import gettext as _

from integrations.models import Integration, Reconciliation, ResyncRun
from integrations.presentation import rates
from integrations.presentation.display import duration_display, pace_display
from integrations.presentation.drift_report import FIELD_LABELS
from integrations.presentation.run_figures import run_figures
from integrations.services import drift, estimates, reconcile
from integrations.services import runs as resync
from integrations.wording import worded
from xsale.commands import LanguageCommand

# Without a terminal (a log file, cron), at most one line this often.
LINE_EVERY_SECONDS = 30.0
POLL_SECONDS = 1.0


def run_label(run: ResyncRun) -> str:
    if run.kind == ResyncRun.Kind.CHECK:
        return _("drift check #%(id)s") % {"id": run.pk}
    if run.retry_of_id:
        return _("retry #%(id)s (of #%(of)s)") % {"id": run.pk, "of": run.retry_of_id}
    return _("resync #%(id)s") % {"id": run.pk}


def progress_line(run: ResyncRun) -> str:
    data = run_figures(run)
    pace = rates.pace(run)
    if run.kind == ResyncRun.Kind.CHECK:
        counts = _("read %(processed)s, differ %(differs)s, missing %(missing)s") % {
            "processed": run.processed,
            "differs": data["differs"],
            "missing": data["missing"],
        }
    else:
        counts = _("sent %(sent)s, failed %(failed)s, photos %(photos)s") % {
            "sent": run.sent,
            "failed": run.failed,
            "photos": run.photo_files_sent,
        }
    parts = [
        f"{run_label(run)}: {run.outcome_display}",
        _("%(processed)s/%(total)s offers (%(percent)s%%)")
        % {"processed": run.processed, "total": run.total, "percent": data["percent"]},
        counts,
    ]
    if run.awaiting:
        parts.append(_("%(count)s awaiting the channel's confirmation") % {"count": run.awaiting})
    # A pace only once there is enough to measure (rates.MIN_MEASURE_SECONDS), as on the pages.
    if pace.paused or pace.per_minute is not None:
        parts.append(pace_display(pace))
    if run.is_active and pace.eta_seconds is not None:
        parts.append(
            _("about %(eta)s left") % {"eta": duration_display(pace.eta_seconds, estimate=True)}
        )
    if not run.is_active and run.elapsed_seconds is not None:
        parts.append(_("took %(duration)s") % {"duration": duration_display(run.elapsed_seconds)})
    if run.pause_reason and run.is_active:
        parts.append(run.pause_reason)
    return " · ".join(parts)


def run_urls(run: ResyncRun) -> str:
    """Where to read more: the run's page, and its failures as CSV when it has some."""
    args = [run.integration_id, run.pk]
    lines = [
        _("Run page: %(url)s") % {"url": settings.SITE_URL + reverse("v2:resync_run", args=args)}
    ]
    if run.failed:
        csv_url = settings.SITE_URL + reverse("v2:resync_failures_csv", args=args)
        lines.append(_("Failures (CSV): %(url)s") % {"url": csv_url})
    return "\n".join(lines)


def find_integration(name: str) -> Integration:
    """By name, ignoring case; several matches (names differing only in case) are refused."""
    matches = list(Integration.objects.filter(name__iexact=name))
    if not matches:
        # iexact is ASCII-only on SQLite: compare the rest in Python (a few integrations).
        matches = [i for i in Integration.objects.all() if i.name.casefold() == name.casefold()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CommandError(
            _('"%(name)s" matches several integrations: %(names)s. Give the exact name.')
            % {"name": name, "names": ", ".join(sorted(i.name for i in matches))}
        )
    names = ", ".join(Integration.objects.values_list("name", flat=True)) or "—"
    raise CommandError(
        _('No integration named "%(name)s" (known: %(names)s).') % {"name": name, "names": names}
    )


@contextmanager
def quiet_loggers(verbosity: int):
    """Other loggers (django-q's "Enqueued …", the engine's info lines) stay off the output."""
    if verbosity >= 2:
        yield
        return
    root = logging.getLogger()
    quieted = [root, logging.getLogger("django-q"), logging.getLogger("integrations")]
    levels = [logger.level for logger in quieted]
    for logger in quieted:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(quieted, levels, strict=True):
            logger.setLevel(level)


def estimate_line(integration: Integration, run: ResyncRun) -> str:
    """The estimate from the channel's budgets (every window), as the confirmation page's."""
    estimate = estimates.resync_estimate(integration, run.total, data_types=run.data_types)
    line = _("Estimated duration: about %(duration)s (set by: %(limit)s).") % {
        "duration": duration_display(estimate.seconds, estimate=True),
        "limit": estimate.binding or "—",
    }
    if estimate.sharing:
        line += " " + _("Other running resyncs share its budgets: %(count)s.") % {
            "count": estimate.sharing
        }
    return line


class Command(LanguageCommand):
    def describe(self) -> str:
        return _(
            "Resynchronize all active offers of one integration (the same service as the pages)."
        )

    def examples(self) -> str:
        return _(
            "examples:\n"
            '  resync_offers "Allegro (demo)" --wait            start a resync and follow it\n'
            '  resync_offers "Allegro (demo)" --status          the latest run, one line\n'
            '  resync_offers "Allegro (demo)" --cancel          cancel the running resync\n'
            '  resync_offers "Allegro (demo)" --resume --wait   go on after a cancel\n'
            '  resync_offers "Allegro (demo)" --retry-failed    resend what failed last time\n'
            '  resync_offers "Allegro (demo)" --check --data prices_stock --wait\n'
            "                                                   what would a resync change?\n"
            '  resync_offers "Allegro (demo)" --differing       resync only what differs\n'
            '  resync_offers "Allegro (demo)" --language en     in English'
        )

    def add_command_arguments(self, parser):
        parser.add_argument("integration", help=_("the integration's name (any case)"))
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--status", action="store_true", help=_("show the latest run"))
        action.add_argument("--cancel", action="store_true", help=_("cancel the running resync"))
        action.add_argument(
            "--retry-failed",
            dest="retry",
            action="store_true",
            help=_("resend the offers the last run failed"),
        )
        action.add_argument(
            "--resume",
            action="store_true",
            help=_("go on with the last run (cancelled or failed) from where it stopped"),
        )
        # The drift check (issue #12, services/drift.py).
        action.add_argument(
            "--check",
            action="store_true",
            help=_("check for drift: read what the channel holds and compare (sends nothing)"),
        )
        action.add_argument(
            "--differing",
            action="store_true",
            help=_("resync only the offers the last completed drift check found different"),
        )
        action.add_argument(
            "--reconcile",
            action="store_true",
            help=_(
                "reconcile prices and stock now: check, send back small drift, ask about large "
                "drift (as the schedule does)"
            ),
        )
        parser.add_argument(
            "--data",
            choices=ResyncRun.DataTypes.values,
            default=None,
            help=_("what to send (a check: what to compare): prices_stock, content or all"),
        )
        parser.add_argument(
            "--photos-too",
            action="store_true",
            help=_("send photos that did not change too (channels other than Allegro/Zalando)"),
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help=_("follow the run until it ends (exit 0 only when it completed without failures)"),
        )
        parser.add_argument(
            "--user",
            help=_("the xSale user the run is recorded for (default: your OS user, if it is one)"),
        )

    def handle_in_language(self, *args, verbosity=1, **options):
        with quiet_loggers(verbosity):
            self._handle(**options)

    def _user(self, username: str | None):
        User = get_user_model()
        if username:
            try:
                return User.objects.get(**{User.USERNAME_FIELD: username})
            except User.DoesNotExist:
                raise CommandError(_('No xSale user "%(name)s".') % {"name": username}) from None
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):
            return None
        user = User.objects.filter(**{User.USERNAME_FIELD: os_user}).first()
        if user is None:
            self.stderr.write(
                _('No xSale user "%(name)s": the run is recorded without a user (use --user).')
                % {"name": os_user},
                self.style.WARNING,
            )
        return user

    def _handle(self, *, integration, status, cancel, retry, resume, wait, user, **kw):
        target = find_integration(integration)
        if kw.get("reconcile"):
            self._reconcile(target)
            return
        latest = target.latest_run()

        if status or cancel:
            if latest is None:
                raise CommandError(
                    _("%(name)s has never been resynchronized.") % {"name": target.name}
                )
            if cancel:
                if not resync.cancel_resync(latest):
                    raise CommandError(
                        _("No resync of %(name)s is running.") % {"name": target.name}
                    )
                self.stdout.write(_("Cancel requested for %(run)s.") % {"run": run_label(latest)})
            else:
                self.stdout.write(progress_line(latest))
            if not wait:
                return
            run = latest
        else:
            requested_by = self._user(user)
            try:
                if (retry or resume) and latest is None:
                    raise CommandError(
                        _("%(name)s has never been resynchronized.") % {"name": target.name}
                    )
                if retry:
                    run = resync.retry_failed(
                        latest, user=requested_by, source=ResyncRun.Source.CLI
                    )
                elif resume:
                    run = resync.resume_resync(
                        latest, user=requested_by, source=ResyncRun.Source.CLI
                    )
                elif kw.get("check") or kw.get("differing"):
                    run = drift_command(target, user=requested_by, **kw)
                else:
                    run = resync.start_resync(
                        target,
                        user=requested_by,
                        source=ResyncRun.Source.CLI,
                        data_types=kw.get("data") or ResyncRun.DataTypes.ALL,
                        photos_too=kw.get("photos_too", False),
                    )
            except resync.ResyncAlreadyRunning as exc:
                raise CommandError(f"{exc}\n{progress_line(exc.run)}") from None
            except resync.ResyncError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(
                _("Started %(run)s of %(name)s: %(total)s offers.")
                % {"run": run_label(run), "name": target.name, "total": run.total}
            )
            if run.kind == ResyncRun.Kind.RESYNC:
                self.stdout.write(estimate_line(target, run))
        if wait:
            self._follow(run)

    def _follow(self, run: ResyncRun):
        if self.stdout.isatty():
            self._follow_with_bar(run)
        else:
            self._follow_with_lines(run)
        run.refresh_from_db()
        self.stdout.write(progress_line(run))
        if run.kind == ResyncRun.Kind.CHECK:
            self.stdout.write(drift_summary(run))
            if run.status == ResyncRun.Status.COMPLETED:
                return  # a check that completed did its job, whatever it found or could not read
        if run.status != ResyncRun.Status.COMPLETED or run.failed:
            raise CommandError(
                _("%(run)s ended %(outcome)s with %(failed)s failed offers.")
                % {"run": run_label(run), "outcome": run.outcome_display, "failed": run.failed}
                + (f" {worded(run.error)}" if run.error else "")
                + "\n"
                + run_urls(run)
            )

    def _reconcile(self, target: Integration):
        """One reconciliation now: start the check, follow it, decide, say what happened."""
        record = reconcile.reconcile_start(target, source=ResyncRun.Source.CLI)
        if record.check_run is not None:
            check = record.check_run
            self.stdout.write(
                _("Started %(run)s of %(name)s (prices and stock).")
                % {"run": run_label(check), "name": target.name}
            )
            self._follow_with_lines(check)
            check.refresh_from_db()
            self.stdout.write(progress_line(check))
            record = reconcile.reconcile_decide(record)
        self.stdout.write(reconciliation_line(record))
        if record.outcome in (Reconciliation.Outcome.FAILED, Reconciliation.Outcome.SKIPPED):
            raise CommandError(_("Nothing was sent."))

    def _follow_with_lines(self, run: ResyncRun):
        last = 0.0
        while True:
            run.refresh_from_db()
            if not run.is_active:
                return
            if time.monotonic() - last >= LINE_EVERY_SECONDS:
                self.stdout.write(progress_line(run))
                self.stdout.flush()
                last = time.monotonic()
            time.sleep(POLL_SECONDS)

    def _follow_with_bar(self, run: ResyncRun):
        from tqdm import tqdm

        bar = tqdm(
            total=run.total or None,
            desc=run_label(run),
            unit=_("offers"),
            file=sys.stdout,
            dynamic_ncols=True,
            # Our own smoothed rate and time left go in the postfix, the same as the pages'.
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{postfix}",
        )
        try:
            while True:
                run.refresh_from_db()
                pace = rates.pace(run)
                bar.total = run.total or None
                bar.n = run.processed
                eta = duration_display(pace.eta_seconds, estimate=True)
                bar.set_postfix_str(
                    _("%(pace)s, %(eta)s left, %(failed)s failed")
                    % {"pace": pace_display(pace), "eta": eta, "failed": run.failed},
                    refresh=False,
                )
                bar.refresh()
                if not run.is_active:
                    return
                time.sleep(POLL_SECONDS)
        finally:
            bar.close()


def drift_command(target: Integration, *, user, check=False, data=None, photos_too=False, **kw):
    """--check starts a drift check; --differing resyncs what the last completed one found."""
    if check:
        return drift.start_check(
            target, user=user, source=ResyncRun.Source.CLI, data_types=data or "all"
        )
    last = (
        target.resync_runs.filter(kind=ResyncRun.Kind.CHECK, status=ResyncRun.Status.COMPLETED)
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is None:
        raise CommandError(
            _("%(name)s has no completed drift check; run --check first.") % {"name": target.name}
        )
    return drift.start_fix(
        last, user=user, source=ResyncRun.Source.CLI, data_types=data, photos_too=photos_too
    )


def drift_summary(run: ResyncRun) -> str:
    """A completed check's report in a few lines."""
    report = run.report or {}
    if report.get("unreadable") or run.status != ResyncRun.Status.COMPLETED:
        return worded(run.error)
    counts = sorted((report.get("fields") or {}).items(), key=lambda item: -item[1])
    fields = ", ".join(f"{FIELD_LABELS.get(f, f)} {n}" for f, n in counts) or "—"
    return _(
        "%(run)s: %(offers)s offers compared with %(listings)s listings · differ %(differs)s "
        "(%(fields)s) · missing on the channel %(missing)s · unknown to xSale %(unknown)s. "
        'Resync only those: resync_offers "%(name)s" --differing'
    ) % {
        "run": run_label(run),
        "offers": report.get("offers", 0),
        "listings": report.get("listings", 0),
        "differs": report.get("differs", 0),
        "fields": fields,
        "missing": report.get("missing", 0),
        "unknown": report.get("unknown", 0),
        "name": run.integration.name,
    }


def reconciliation_line(record: Reconciliation) -> str:
    """What a reconciliation found and did, in one line."""
    line = _(
        "Reconciliation of %(name)s: %(outcome)s · active offers %(active)s · checked "
        "%(checked)s · differing %(differing)s (sent back without asking: at most %(limit)s)"
    ) % {
        "name": record.integration.name,
        "outcome": record.get_outcome_display(),
        "active": record.active_offers,
        "checked": record.checked,
        "differing": record.differing,
        "limit": reconcile.fix_limit(record.active_offers),
    }
    if record.fix_run is not None:
        line += " · " + _("%(run)s: %(total)s offers") % {
            "run": run_label(record.fix_run),
            "total": record.fix_run.total,
        }
    if record.note:
        line += "\n" + worded(record.note)
    return line

"""The e-mail a seller gets when a resync they started ends: the honest outcome and a link.

The engine calls notify_run_finished(run) once, when a run reaches its final status.
"""

import logging
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.models import RESYNC_PERMISSION, ResyncRun
from integrations.presentation.display import duration_display
from integrations.presentation.failures import failure_groups
from integrations.wording import worded
from xsale.numbers import number_display

logger = logging.getLogger(__name__)


def run_url(run: ResyncRun) -> str:
    """The run's page; a drift check's report."""
    name = "v2:drift_report" if run.is_check else "v2:resync_run"
    return settings.SITE_URL + reverse(name, args=[run.integration_id, run.pk])


SUBJECT_MAX_CHARS = 150


def header_text(text: str, limit: int = SUBJECT_MAX_CHARS) -> str:
    """Text fit for one e-mail header line: control characters (CR, LF, tab, escape, NUL) and
    line separators become spaces, runs of spaces one, and it is cut at `limit` characters.

    An integration's name is the seller's text: a line break in it made Django refuse the whole
    e-mail (BadHeaderError), which was then lost with only a log line.
    """
    printable = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in str(text)
    )
    line = " ".join(printable.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _subject(run: ResyncRun) -> str:
    if run.is_check:
        return header_text(
            _("xSale: drift check of %(integration)s %(outcome)s")
            % {"integration": run.integration.name, "outcome": run.outcome_display}
        )
    return header_text(
        _("xSale: resync of %(integration)s %(outcome)s")
        % {"integration": run.integration.name, "outcome": run.outcome_display}
    )


def _check_lines(run: ResyncRun) -> list[str]:
    """A check speaks as a check: what it read and found, nothing "sent"."""
    report = run.report or {}
    return [
        _("The drift check #%(id)s of %(integration)s has ended: %(outcome)s.")
        % {"id": run.pk, "integration": run.integration.name, "outcome": run.outcome_display},
        "",
        _("Listings read and offers compared: %(processed)s")
        % {"processed": number_display(run.processed)},
        _("Offers that differ: %(count)s") % {"count": number_display(report.get("differs") or 0)},
        _("Missing on the channel: %(count)s")
        % {"count": number_display(report.get("missing") or 0)},
        _("Listings unknown to xSale: %(count)s")
        % {"count": number_display(report.get("unknown") or 0)},
        _("Could not be read: %(count)s") % {"count": number_display(run.failed)},
    ]


def _body(run: ResyncRun) -> str:
    lines = _check_lines(run) if run.is_check else _resync_lines(run)
    if run.started_at:
        end = run.finished_at or timezone.now()
        lines.append(
            _("Duration: %(duration)s")
            % {"duration": duration_display((end - run.started_at).total_seconds())}
        )
    if run.finished_at:
        # One space between date and time (Polish SHORT_DATETIME_FORMAT has two).
        finished = formats.date_format(timezone.localtime(run.finished_at), "SHORT_DATETIME_FORMAT")
        lines.append(_("Finished at: %(when)s") % {"when": " ".join(finished.split())})
    if run.error:
        lines += ["", _("Reason: %(error)s") % {"error": worded(run.error)}]
    if run.failed and not run.is_check:
        lines += [
            "",
            _("The failed offers, grouped by the channel's reason, are on the run's page."),
        ]
    lines += ["", _("The run's page: %(url)s") % {"url": run_url(run)}]
    return "\n".join(lines) + "\n"


def _top_reason(run: ResyncRun) -> list[str]:
    """The most common reason offers failed, its count and the channel's words, first thing in
    the e-mail: what a seller most likely has to fix."""
    groups = failure_groups(run, 1) if run.failed and not run.is_check else []
    if not groups:
        return []
    top = groups[0]
    reason = " ".join((top.message or top.code or "—").split())
    return [
        ngettext(
            "Most common reason (%(count)s offer): %(reason)s",
            "Most common reason (%(count)s offers): %(reason)s",
            top.count,
        )
        % {"count": number_display(top.count), "reason": reason},
        "",
    ]


def _resync_lines(run: ResyncRun) -> list[str]:
    lines = [
        _("The resync #%(id)s of %(integration)s has ended: %(outcome)s.")
        % {"id": run.pk, "integration": run.integration.name, "outcome": run.outcome_display},
        "",
        *_top_reason(run),
        _("Offers processed: %(processed)s of %(total)s")
        % {"processed": number_display(run.processed), "total": number_display(run.total)},
        _("Sent: %(count)s") % {"count": number_display(run.sent)},
        _("Failed: %(count)s") % {"count": number_display(run.failed)},
        _("Photos sent: %(count)s") % {"count": number_display(run.photo_files_sent)},
    ]
    if run.awaiting:  # a run cancelled or failed while the channel still owed reports
        lines.insert(
            len(lines) - 1,
            _("Sent, not yet confirmed by the channel: %(count)s")
            % {"count": number_display(run.awaiting)},
        )
    return lines


def notify_run_finished(run: ResyncRun) -> None:
    """E-mail whoever started the run (when they have an address), in the product's language."""
    user = run.requested_by
    if user is None or not getattr(user, "email", ""):
        return
    run = ResyncRun.objects.select_related("integration").get(pk=run.pk)
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _subject(run), _body(run)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # a mail server being down must not fail the run's ending
        logger.exception("resync %s: the finish e-mail could not be sent", run.pk)


def reconciliation_url(integration_id: int) -> str:
    return settings.SITE_URL + reverse("v2:integration_edit", args=[integration_id])


def notify_reconciliation_asks(record) -> None:
    """A reconciliation found more drift than it may send back by itself: e-mail everyone who
    may start a resync (they confirm or dismiss it on the integration's page)."""
    users = get_user_model().objects.with_perm(
        RESYNC_PERMISSION, backend="django.contrib.auth.backends.ModelBackend"
    )
    emails = sorted({u.email for u in users.filter(is_active=True) if u.email})
    if not emails:
        return
    integration = record.integration
    with translation.override(settings.LANGUAGE_CODE):
        subject = header_text(
            _("xSale: %(integration)s drifted — your decision is needed")
            % {"integration": integration.name}
        )
        body = "\n".join(
            [
                _(
                    "The reconciliation of %(integration)s found %(differing)s of %(active)s "
                    "active offers with other prices or stock on the channel than in xSale."
                )
                % {
                    "integration": integration.name,
                    "differing": number_display(record.differing),
                    "active": number_display(record.active_offers),
                },
                _(
                    "That is more than it sends back by itself, so nothing was sent. Confirm the "
                    "fix or dismiss it on the integration's page:"
                ),
                reconciliation_url(integration.pk),
            ]
        )
    try:
        send_mail(subject, body + "\n", None, emails)
    except Exception:  # a mail server being down must not lose the notice on the page
        logger.exception("reconciliation %s: the e-mail could not be sent", record.pk)

"""`manage.py sync_changes NAME`: everyday sync of one integration from the command line (the
same services as its page). Speaks the product's language (the settings' one, or --language)."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from integrations.models import Integration
from integrations.sync import dispatch, freshness, guard
from xsale.commands import LanguageCommand


class Command(LanguageCommand):
    def describe(self) -> str:
        return _(
            "Everyday sync of one integration: its freshness and pending changes; confirm or "
            "discard a wave of changes the guardrail holds; retry the changes the channel "
            "refused."
        )

    def add_command_arguments(self, parser):
        parser.add_argument("name", help=_("the integration's name"))
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--confirm-wave", action="store_true", help=_("send the held wave of changes")
        )
        action.add_argument(
            "--discard-wave",
            action="store_true",
            help=_("drop the held wave's stock and price changes unsent"),
        )
        action.add_argument(
            "--retry-refused", action="store_true", help=_("try the refused changes again")
        )

    def handle_in_language(self, *args, name, confirm_wave, discard_wave, retry_refused, **kw):
        integration = Integration.objects.filter(name=name).first()
        if integration is None:
            raise CommandError(_("No integration is named %(name)r.") % {"name": name})
        if confirm_wave or discard_wave:
            wave = guard.decide_wave(integration.pk, confirm=confirm_wave, by="cli")
            if wave is None:
                raise CommandError(_("%(name)s: no wave of changes is held.") % {"name": name})
            done = (
                _("%(name)s: wave confirmed (%(zeroed)s offers to stock 0, %(cuts)s price cuts)")
                if confirm_wave
                else _(
                    "%(name)s: wave discarded (%(zeroed)s offers to stock 0, %(cuts)s price cuts)"
                )
            )
            self.stdout.write(done % {"name": name, "zeroed": wave.zeroed, "cuts": wave.price_cuts})
            return
        if retry_refused:
            count = dispatch.retry_refused(integration.pk)
            again = ngettext(
                "%(count)s refused change will be sent again.",
                "%(count)s refused changes will be sent again.",
                count,
            ) % {"count": count}
            self.stdout.write(f"{name}: {again}")
            return
        figures = freshness.of(integration)
        hour, day = figures.hour, figures.day
        self.stdout.write(
            _(
                "%(name)s: p50/p95 last hour %(hour50)s / %(hour95)s (sent: %(hour)s); "
                "last day %(day50)s / %(day95)s (sent: %(day)s)"
            )
            % {
                "name": name,
                "hour50": hour.p50_text(),
                "hour95": hour.p95_text(),
                "hour": hour.count,
                "day50": day.p50_text(),
                "day95": day.p95_text(),
                "day": day.count,
            }
        )
        state = _("pending %(pending)s, oldest %(oldest)s, refused %(refused)s") % {
            "pending": figures.pending,
            "oldest": figures.oldest_text(),
            "refused": figures.refused,
        }
        if figures.paused:
            state += _(", sync paused")
        self.stdout.write(state)
        for reason, count in figures.reasons:
            self.stdout.write(f"  {count} × {reason}")
        if figures.wave is not None:
            self.stdout.write(
                _(
                    "HELD: a wave of %(zeroed)s offers to stock 0 and %(cuts)s price cuts waits "
                    "for --confirm-wave or --discard-wave"
                )
                % {"zeroed": figures.wave.zeroed, "cuts": figures.wave.price_cuts}
            )

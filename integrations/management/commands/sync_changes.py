from django.core.management.base import BaseCommand, CommandError

from integrations.models import Integration
from integrations.sync import dispatch, freshness, guard


def seconds(value) -> str:
    return "—" if value is None else f"{value:.1f} s"


class Command(BaseCommand):
    help = (
        "Everyday sync of one integration: its freshness and pending changes; confirm or "
        "discard a wave of changes the guardrail holds; retry the changes the channel refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the integration's name")
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--confirm-wave", action="store_true", help="send the held wave of changes"
        )
        action.add_argument(
            "--discard-wave",
            action="store_true",
            help="drop the held wave's stock and price changes unsent",
        )
        action.add_argument(
            "--retry-refused", action="store_true", help="try the refused changes again"
        )

    def handle(self, *args, name, confirm_wave, discard_wave, retry_refused, **options):
        integration = Integration.objects.filter(name=name).first()
        if integration is None:
            raise CommandError(f"no integration named {name!r}")
        if confirm_wave or discard_wave:
            wave = guard.decide_wave(integration.pk, confirm=confirm_wave, by="cli")
            if wave is None:
                raise CommandError(f"{name}: no wave of changes is held")
            self.stdout.write(
                f"{name}: wave {'confirmed' if confirm_wave else 'discarded'} "
                f"({wave.zeroed} offers to stock 0, {wave.price_cuts} price cuts)"
            )
            return
        if retry_refused:
            count = dispatch.retry_refused(integration.pk)
            self.stdout.write(f"{name}: {count} refused changes to send again")
            return
        figures = freshness.of(integration)
        self.stdout.write(
            f"{name}: p50/p95 last hour {seconds(figures.hour.p50)} / {seconds(figures.hour.p95)}"
            f" ({figures.hour.count} sent); last day {seconds(figures.day.p50)} / "
            f"{seconds(figures.day.p95)} ({figures.day.count} sent)"
        )
        self.stdout.write(
            f"pending {figures.pending}, oldest {seconds(figures.oldest_pending_seconds)}, "
            f"refused {figures.refused}" + (", sync paused" if figures.paused else "")
        )
        for reason, count in figures.reasons:
            self.stdout.write(f"  {count} × {reason}")
        if figures.wave is not None:
            self.stdout.write(
                f"HELD: a wave of {figures.wave.zeroed} offers to stock 0 and "
                f"{figures.wave.price_cuts} price cuts waits for --confirm-wave or --discard-wave"
            )

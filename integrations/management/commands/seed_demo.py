import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.services.demo import (
    DEMO_USER,
    SHOWCASE_STEPS,
    seed_demo_user,
    seed_integrations,
    seed_offers,
    showcase_sandbox,
)


class Command(BaseCommand):
    help = (
        "Create demo integrations (pointed at the sandbox), demo offers and a demo login "
        "(a superuser demo / demo). Development only: refused without DEBUG."
    )

    def add_arguments(self, parser):
        parser.add_argument("--offers", type=int, default=3000)
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run without DEBUG anyway (creates the demo / demo superuser there too).",
        )
        parser.add_argument(
            "--scenario",
            choices=["showcase"],
            help=(
                "showcase: with the sandbox running (make run), set the demo up so that a drift "
                "check finds differences (Allegro), then resyncs show failures (Allegro) and a "
                "pause (WooCommerce)"
            ),
        )

    def handle(self, *args, offers: int, allow_production: bool, scenario=None, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "seed_demo creates a superuser with the password 'demo': it runs only with "
                "DEBUG=1 (development). To seed a non-development database anyway, pass "
                "--allow-production."
            )
        integrations = seed_integrations()
        created = seed_offers(offers, integrations)
        seed_demo_user()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {len(integrations)} integrations, {created} offers created "
                f"({offers} wanted); login {DEMO_USER[0]} / {DEMO_USER[1]}"
            )
        )
        if scenario == "showcase":
            try:
                done = showcase_sandbox()
            except requests.RequestException as error:
                raise CommandError(
                    f"The sandbox did not answer ({error}): start it first (make run)."
                ) from None
            for line in done:
                self.stdout.write(f"  {line}")
            self.stdout.write("Now, in this order (a resync mends the drift a check finds):")
            for step in SHOWCASE_STEPS:
                self.stdout.write(f"  {step}")

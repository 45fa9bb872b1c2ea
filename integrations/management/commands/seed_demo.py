from django.core.management.base import BaseCommand

from integrations.demo import DEMO_USER, seed_demo_user, seed_integrations, seed_offers


class Command(BaseCommand):
    help = "Create demo integrations (pointed at the sandbox), demo offers and a demo login."

    def add_arguments(self, parser):
        parser.add_argument("--offers", type=int, default=3000)

    def handle(self, *args, offers: int, **options):
        integrations = seed_integrations()
        created = seed_offers(offers, integrations)
        seed_demo_user()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {len(integrations)} integrations, {created} offers created "
                f"({offers} wanted); login {DEMO_USER[0]} / {DEMO_USER[1]}"
            )
        )

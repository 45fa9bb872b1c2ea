from django.core.management.base import BaseCommand

from sandbox.server import serve


class Command(BaseCommand):
    help = "Run the channel sandbox (emulators of the Allegro, Zalando and WooCommerce APIs)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--verbose", action="store_true", help="log every request")

    def handle(self, *args, host, port, verbose, **options):
        serve(host, port, verbose=verbose)

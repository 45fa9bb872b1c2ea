from django.core.management.base import BaseCommand

from integrations.sync.process import SyncProcess


class Command(BaseCommand):
    help = (
        "Everyday sync: send the catalogue's changes to the channels within seconds (the "
        "Procfile's `sync` process). Stops cleanly on SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args, once=False, **options):
        process = SyncProcess()
        if not once:
            process.install_signals()
        self.stdout.write("everyday sync: started")
        process.run(once=once)
        self.stdout.write("everyday sync: stopped")

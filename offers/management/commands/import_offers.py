from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from offers.importing import import_lines


class Command(BaseCommand):
    help = "Import offers from a JSON Lines file (one offer per line), upserting by SKU."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            fh = file.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot open {file}: {exc.strerror}") from None

        def report_error(number, reason):
            self.stderr.write(f"line {number}: {reason}")

        with fh:
            report = import_lines(fh, base_dir=file.resolve().parent, on_error=report_error)
        summary = (
            f"Imported {report.created + report.updated} offers "
            f"({report.created} created, {report.updated} updated); "
            f"{len(report.errors)} lines failed."
        )
        if report.errors:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))

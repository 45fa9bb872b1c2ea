"""`manage.py import_offers FILE`: import offers from a JSON Lines file (offers/importing/).

Speaks the product's language (the settings' one, or --language): the summary, and each line's
error as it is found, on the error output."""

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from offers.importing import ImportReport, import_lines
from xsale.commands import LanguageCommand
from xsale.numbers import number_display


def summary(report: ImportReport) -> str:
    imported = report.created + report.updated
    return ngettext(
        "Imported %(count)s offer (%(created)s created, %(updated)s updated); "
        "lines failed: %(failed)s.",
        "Imported %(count)s offers (%(created)s created, %(updated)s updated); "
        "lines failed: %(failed)s.",
        imported,
    ) % {
        "count": number_display(imported),
        "created": number_display(report.created),
        "updated": number_display(report.updated),
        "failed": number_display(len(report.errors)),
    }


class Command(LanguageCommand):
    def describe(self) -> str:
        return _("Import offers from a JSON Lines file (one offer per line), upserting by SKU.")

    def examples(self) -> str:
        return _(
            "examples:\n"
            "  import_offers offers.jsonl                 import, speaking Polish\n"
            "  import_offers offers.jsonl --language en   in English\n"
            "\n"
            "A line that fails is named with its line number and why; the other lines are\n"
            "imported. Photo paths are read inside the file's folder."
        )

    def add_command_arguments(self, parser):
        parser.add_argument(
            "file", type=Path, help=_("the JSON Lines file: one offer a line, as a JSON object")
        )

    def handle_in_language(self, *args, file: Path, **options):
        try:
            fh = file.open("rb")
        except OSError as exc:
            raise CommandError(
                _("Cannot open %(file)s: %(reason)s") % {"file": file, "reason": exc.strerror}
            ) from None

        def report_error(number, reason):
            self.stderr.write(
                _("line %(number)s: %(reason)s") % {"number": number, "reason": reason}
            )

        with fh:
            report = import_lines(fh, base_dir=file.resolve().parent, on_error=report_error)
        if report.errors:
            raise CommandError(summary(report))
        self.stdout.write(self.style.SUCCESS(summary(report)))

"""Management commands that speak the product's language: the settings' one (Polish) unless
`--language` asks for another, their help and argparse's own words included. The one way a
command of xSale chooses its language (resync_offers, import_offers)."""

from argparse import RawDescriptionHelpFormatter

from django.conf import settings
from django.core.management.base import BaseCommand, DjangoHelpFormatter
from django.utils import translation
from django.utils.translation import gettext as _


def language_in(argv: list[str]) -> str:
    """The --language an argument list asks for (the settings' language otherwise), so that
    --help already speaks it."""
    known = {code for code, _name in settings.LANGUAGES}
    for n, arg in enumerate(argv):
        value = None
        if arg == "--language" and n + 1 < len(argv):
            value = argv[n + 1]
        elif arg.startswith("--language="):
            value = arg.split("=", 1)[1]
        if value in known:
            return value
    return settings.LANGUAGE_CODE


class HelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's order of options, the examples as written, "usage:" in the chosen language."""

    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, prefix or _("usage: "))


class LanguageCommand(BaseCommand):
    """A command worded in one language. A subclass words its help in `describe()` (no class
    `help`: the help is built in the chosen language each time a parser is) and its
    examples in `examples()` (both called in the chosen language), adds its own arguments in
    `add_command_arguments` and works in `handle_in_language`, inside that language; called
    through `call_command`, it speaks `language=` or the settings' language."""

    def describe(self) -> str:
        raise NotImplementedError

    def examples(self) -> str:
        return ""

    def add_command_arguments(self, parser) -> None:
        pass

    def handle_in_language(self, *args, **options):
        raise NotImplementedError

    def run_from_argv(self, argv):
        with translation.override(language_in(argv)):
            super().run_from_argv(argv)

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Built in the active language (run_from_argv: --language, else the settings' one).
        self.help = self.describe()
        epilog = self.examples()
        if epilog:
            kwargs.setdefault("epilog", epilog)
        kwargs.setdefault("formatter_class", HelpFormatter)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        for group in parser._action_groups:  # argparse's own titles, in the chosen language
            if group.title == "options":
                group.title = _("options")
            elif group.title == "positional arguments":
                group.title = _("positional arguments")
        return parser

    def add_arguments(self, parser):
        self.add_command_arguments(parser)
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            help=_("the language of the output (default: %(language)s)")
            % {"language": settings.LANGUAGE_CODE},
        )

    def handle(self, *args, language=None, **options):
        with translation.override(language or settings.LANGUAGE_CODE):
            return self.handle_in_language(*args, **options)

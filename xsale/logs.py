"""One log format and one time zone (UTC) for every process: the web (Django and gunicorn's
own logs), both worker clusters (django-q2 logs through the root logger) and the commands.

Django sets the process's TZ to TIME_ZONE when it loads its settings, gunicorn's master does
not load them: times in local zones would disagree between lines of one log. Every line here
carries UTC, marked "Z". Imports nothing of Django: gunicorn's config (xsale/gunicorn_conf.py)
uses it before Django is set up.
"""

import logging
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


class UtcFormatter(logging.Formatter):
    converter = time.gmtime

    def __init__(self, fmt=FORMAT, datefmt=DATE_FORMAT, **kwargs):
        super().__init__(fmt, datefmt, **kwargs)

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        return super().formatTime(record, datefmt) + f".{int(record.msecs):03d}Z"


class NoProgressPolls(logging.Filter):
    """Drop gunicorn's access line of a progress poll that went well: an open integration page
    asks every few seconds, which would bury every other line. Failed polls are still logged."""

    def filter(self, record):
        atoms = record.args if isinstance(record.args, dict) else {}
        path = str(atoms.get("U", ""))
        status = str(atoms.get("s", ""))
        return not (path.endswith("/progress.json") and status[:1] in ("2", "3"))


def logging_config(level: str = "INFO") -> dict:
    """The LOGGING dict for Django's settings and gunicorn's logconfig_dict."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"()": UtcFormatter}},
        "filters": {"no_progress_polls": {"()": NoProgressPolls}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "plain"},
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["no_progress_polls"],
                "stream": "ext://sys.stdout",
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # axes logs every login at INFO; lockouts are WARNING.
            "urllib3": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }

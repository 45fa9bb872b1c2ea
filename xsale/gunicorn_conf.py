"""gunicorn's settings beyond the Procfile's command line: its logs in xSale's one format and
time zone (xsale/logs.py), without the access line of every progress poll."""

import os

from xsale.logs import logging_config

logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO"))
# The time is the formatter's (UTC); the request, status, size, duration in ms, user agent.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

"""Django's SQLite backend, told the real variable limit of the SQLite it runs on.

Django assumes SQLite's historical 999 bound variables and splits every bulk write into batches
of 999 // fields rows. SQLite ≥ 3.32 allows 32,766, so a resync chunk's journal upsert is one
statement whatever the chunk size, as it is on PostgreSQL.
"""

import sqlite3

from django.db.backends.sqlite3 import base, features


class DatabaseFeatures(features.DatabaseFeatures):
    max_query_params = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures

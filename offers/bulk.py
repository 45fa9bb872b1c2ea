"""Rows written in sets, for the paths where Django's per-object work is most of the cost."""

import json
from datetime import date, datetime
from decimal import Decimal
from itertools import chain

from django.db import connection
from django.db.models import DateTimeField


class _RowsEncoder(json.JSONEncoder):
    """Values as PostgreSQL's input functions read them: a Decimal as its digits, a datetime or
    date in ISO 8601 (with its offset: a timestamptz keeps the instant, to the microsecond).
    The rows of a set mostly share their timestamps: the last one's text is kept."""

    _last: tuple = (None, "")

    def default(self, o):
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, datetime | date):
            last, text = self._last  # one tuple: threads sharing the encoder read it whole
            if last is not o:
                text = o.isoformat()
                self._last = (o, text)
            return text
        return super().default(o)


_ROWS_JSON = _RowsEncoder(ensure_ascii=False, separators=(",", ":"))


def postgresql_rows(fields, rows: list[tuple]) -> tuple[str, list]:
    """(a SELECT of `rows`, its parameters) on PostgreSQL: the rows as one JSON document, each
    value cast to its field's column type. One text parameter, encoded in C: psycopg's
    client-side binding quotes an array parameter value by value in Python (a regular
    expression each), which cost more than everything else a resync chunk writes."""
    columns = ", ".join(
        f"(r.value->>{position})::{field.db_type(connection)}"
        for position, field in enumerate(fields)
    )
    sql = f"SELECT {columns} FROM jsonb_array_elements(%s::jsonb) AS r"  # noqa: S608
    return sql, [_ROWS_JSON.encode(rows)]


def _adapted(fields, rows: list[tuple]) -> list:
    """The rows' values in one list, as the ORM writes them. Raw SQL hands a datetime to the
    driver as it is, and on SQLite that text ("…+00:00") sorts apart from the ORM's ("…" in
    UTC), so the sync log's keyset pages skipped rows that share a timestamp (issue 20). Only
    the datetime columns are looked at, and each datetime is adapted once (a set's rows share
    their timestamps)."""
    values = list(chain.from_iterable(rows))
    width = len(fields)
    adapt = connection.ops.adapt_datetimefield_value
    adapted: dict = {}
    for position, field in enumerate(fields):
        if not isinstance(field, DateTimeField):
            continue
        for index in range(position, len(values), width):
            value = values[index]
            if isinstance(value, datetime):
                if value not in adapted:
                    adapted[value] = adapt(value)
                values[index] = adapted[value]
    return values


def rows_source(fields, rows: list[tuple]) -> tuple[str, list]:
    """(the source of an INSERT of `rows`, its parameters): on PostgreSQL a SELECT of one JSON
    parameter (`postgresql_rows`), elsewhere a VALUES list of the values as the ORM writes them.
    For an upsert of a set in one statement (the journal's, the outbox's)."""
    if connection.vendor == "postgresql":
        return postgresql_rows(fields, rows)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return "VALUES " + ", ".join([placeholders] * len(rows)), _adapted(fields, rows)


def insert_rows(model, columns: list[str], rows: list[tuple], *, returning=()) -> list[tuple]:
    """Rows into `model`'s table in as few INSERTs as the database allows (Django's bulk_create
    prepares each value through its field: most of a first import's time). Values come ready
    for the database: validated by the line checks, a datetime adapted by the caller. With
    `returning`, the inserted rows' columns by name.

    On PostgreSQL one statement whatever the number of rows, of one parameter: the rows as a
    JSON document (`postgresql_rows`; psycopg's client-side binding scans the query text for
    parameters, which costs more than the insert with one per value). Elsewhere (SQLite) one
    row's INSERT run for each row, and the `returning` columns read back by the first of them,
    a unique column.
    """
    if not rows:
        return []
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(c) for c in columns]
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    returns = " RETURNING " + ", ".join(quote(c) for c in returning) if returning else ""
    if connection.vendor == "postgresql":
        source, params = postgresql_rows(fields, rows)
        sql = f"INSERT INTO {table} ({names}) {source}{returns}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if returning else []
    # One short statement run for every row (SQLite runs it row after row in C): a statement of
    # thousands of values would cost its compiled program's memory for as long as it is cached.
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    if not returning:
        return []
    key = returning[0]
    keys = [row[columns.index(key)] for row in rows]
    return list(model.objects.filter(**{f"{key}__in": keys}).values_list(*returning))

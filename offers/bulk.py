"""Rows written in sets, for the paths where Django's per-object work is most of the cost."""

from django.db import connection


def insert_rows(model, columns: list[str], rows: list[tuple], *, returning=()) -> list[tuple]:
    """Rows into `model`'s table in as few INSERTs as the database allows (Django's bulk_create
    prepares each value through its field: most of a first import's time). Values come ready
    for the database: validated by the line checks, a datetime adapted by the caller. With
    `returning`, the inserted rows' columns by name.

    On PostgreSQL one statement whatever the number of rows: a column an array, the rows
    `unnest`ed (a query of one parameter per column; psycopg's client-side binding scans the
    query text for parameters, which costs more than the insert with one per value). Elsewhere
    (SQLite) one row's INSERT run for each row, and the `returning` columns read back by the
    first of them, a unique column.
    """
    if not rows:
        return []
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(c) for c in columns]
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    returns = " RETURNING " + ", ".join(quote(c) for c in returning) if returning else ""
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}){returns}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
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

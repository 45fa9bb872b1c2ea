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
    multi-row VALUES, as many rows a statement as the variable limit allows.
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
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_statement = max(1, connection.features.max_query_params // len(columns))
    can_return = returning and connection.features.can_return_rows_from_bulk_insert
    result = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join([row_sql] * len(chunk))
            sql = f"INSERT INTO {table} ({names}) VALUES {values}"  # noqa: S608 - names from _meta
            if can_return:
                sql += returns
            cursor.execute(sql, [value for row in chunk for value in row])
            if can_return:
                result.extend(cursor.fetchall())
    if returning and not can_return:  # a database without RETURNING: read them back
        key = returning[0]
        keys = [row[columns.index(key)] for row in rows]
        result = list(model.objects.filter(**{f"{key}__in": keys}).values_list(*returning))
    return result

"""Rows written in sets, for the paths where Django's per-object work is most of the cost."""

from django.db import connection


def insert_rows(model, columns: list[str], rows: list[tuple], *, returning=()) -> list[tuple]:
    """Rows into `model`'s table in as few multi-row INSERTs as the database's variable limit
    allows (Django's bulk_create prepares each value through its field: most of a first
    import's time). Values come ready for the database: validated by the line checks, a
    datetime adapted by the caller. With `returning`, the inserted rows' columns by name."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(model._meta.get_field(c).column) for c in columns)
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # PostgreSQL names no limit, but its protocol carries at most 65,535 parameters.
    limit = connection.features.max_query_params or 65_535
    per_statement = max(1, limit // len(columns))
    can_return = returning and connection.features.can_return_rows_from_bulk_insert
    result = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join([row_sql] * len(chunk))
            sql = f"INSERT INTO {table} ({names}) VALUES {values}"  # noqa: S608 - names from _meta
            if can_return:
                sql += " RETURNING " + ", ".join(quote(c) for c in returning)
            cursor.execute(sql, [value for row in chunk for value in row])
            if can_return:
                result.extend(cursor.fetchall())
    if returning and not can_return:  # a database without RETURNING: read them back
        key = returning[0]
        keys = [row[columns.index(key)] for row in rows]
        result = list(model.objects.filter(**{f"{key}__in": keys}).values_list(*returning))
    return result

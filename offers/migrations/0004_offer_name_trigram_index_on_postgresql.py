"""On PostgreSQL, a trigram index for the sync log's name search; nothing on SQLite.

The search is `offer__name__icontains`, which Django writes on PostgreSQL as
`UPPER("offers_offer"."name"::text) LIKE UPPER('%…%')`: a GIN index of that very expression
with pg_trgm's `gin_trgm_ops` answers it (EXPLAIN shows a bitmap scan of `offer_name_trgm`)
instead of reading every offer. pg_trgm is a trusted extension (PostgreSQL ≥ 13): the
database's owner may create it.
"""

from django.db import migrations

INDEX = "offer_name_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON offers_offer "
        "USING gin ((UPPER(name::text)) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0003_offer_names_visible_characters_only"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]

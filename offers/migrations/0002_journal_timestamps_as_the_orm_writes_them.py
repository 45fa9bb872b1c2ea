"""Site journal rows written by raw SQL on SQLite kept their time as "…+00:00"; the ORM writes
and compares "…" (UTC, no offset), so the sync log's keyset pages skipped rows sharing a
timestamp. Rewrite them the ORM's way (the engine now writes them so: resync_chunk._adapted).
PostgreSQL stores a timestamptz either way: nothing to do there."""

from django.db import migrations


def normalise(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    table = schema_editor.quote_name("offers_sitejournal")
    schema_editor.execute(
        f"UPDATE {table} SET synced_at = substr(synced_at, 1, length(synced_at) - 6) "  # noqa: S608
        "WHERE synced_at LIKE '%+00:00'"
    )


class Migration(migrations.Migration):
    dependencies = [("offers", "0001_initial")]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop)]

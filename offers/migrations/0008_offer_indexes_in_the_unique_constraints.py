"""The offer's own index on links, the journal and the outbox is dropped: each table's unique
constraint starts with the offer, so its index serves every lookup by offer, and the single one
only cost every write (a resync's journal rows, an import's links and outbox rows).

Dropped by name, found by introspection, rather than by AlterField: on SQLite that would copy
the whole table (a journal of a million rows) to change nothing but an index."""

from django.db import migrations, models

TABLES = ("offerchannel", "sitejournal", "pendingchange")


def offer_only_indexes(schema_editor, model) -> list[str]:
    """Names of the table's plain indexes on the offer column alone."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [
        name
        for name, info in constraints.items()
        if info["index"] and not info["unique"] and not info["primary_key"]
        and info["columns"] == ["offer_id"]
    ]  # fmt: skip


def drop(apps, schema_editor):
    for name in TABLES:
        model = apps.get_model("offers", name)
        for index in offer_only_indexes(schema_editor, model):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(index)}")


def create(apps, schema_editor):
    for name in TABLES:
        model = apps.get_model("offers", name)
        if not offer_only_indexes(schema_editor, model):
            field = model._meta.get_field("offer")
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


def offer_field(related_name: str):
    return models.ForeignKey(
        db_index=False,
        on_delete=models.deletion.CASCADE,
        related_name=related_name,
        to="offers.offer",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("offers", "0007_active_links_walk_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="offerchannel", name="offer", field=offer_field("channels")
                ),
                migrations.AlterField(
                    model_name="pendingchange",
                    name="offer",
                    field=offer_field("pending_changes"),
                ),
                migrations.AlterField(
                    model_name="sitejournal", name="offer", field=offer_field("journal")
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]

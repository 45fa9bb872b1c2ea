from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0011_drift_listing_named_by_an_offer"),
    ]

    operations = [
        migrations.AddField(
            model_name="resyncrun",
            name="in_flight",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="resyncrun",
            name="progress_points",
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
    ]

"""integrations.models is a package of one module per aggregate: every model of the app is read
from it under its own name, with the app label and table it always had (outside scripts read
`from integrations.models import ResyncRun`; the database's tables do not move)."""

from django.apps import apps

import integrations.models as integration_models

# The names outside scripts read (issue 25 item 5): they never change.
READ_FROM_OUTSIDE = (
    "Integration",
    "ResyncRun",
    "ResyncFailure",
    "DriftItem",
    "DriftListing",
    "ChannelBatch",
    "ChannelJob",
    "WorkerPresence",
)


def test_every_model_of_the_app_is_read_from_integrations_models():
    models = list(apps.get_app_config("integrations").get_models())
    assert {model.__name__ for model in models} >= set(READ_FROM_OUTSIDE)
    for model in models:
        assert getattr(integration_models, model.__name__, None) is model, model.__name__
        assert model.__name__ in integration_models.__all__, model.__name__
        assert model._meta.app_label == "integrations"
        assert model._meta.db_table == f"integrations_{model.__name__.lower()}"


def test_every_name_the_package_exports_is_there():
    missing = [n for n in integration_models.__all__ if not hasattr(integration_models, n)]
    assert missing == []

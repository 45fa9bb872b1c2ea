from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from integrations.channels import ALL_CREDENTIAL_KEYS
from integrations.forms import IntegrationForm, secret_field_name
from integrations.models import Integration


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    list_display = ["name", "channel", "api_url", "requests_per_minute", "active"]
    list_filter = ["channel", "active"]
    search_fields = ["name"]

    fieldsets = [
        (None, {"fields": IntegrationForm.Meta.fields}),
        (
            _("Credentials"),
            {
                "fields": [secret_field_name(k) for k in ALL_CREDENTIAL_KEYS],
                "description": _(
                    "Stored secrets are never shown. Fill in a field only to replace it; only "
                    "the keys the channel uses are kept."
                ),
            },
        ),
    ]

"""The integration form, shared by the V1 and V2 pages and the admin.

Credentials are write-only: each secret has a password field that is always rendered empty;
left empty, the stored value stays. Stored values never go back into the HTML.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.channels import ALL_CREDENTIAL_KEYS, CREDENTIAL_LABELS, channel_facts
from integrations.models import Integration


def secret_field_name(key: str) -> str:
    return f"secret_{key}"


class IntegrationForm(forms.ModelForm):
    class Meta:
        model = Integration
        fields = [
            "name",
            "channel",
            "api_url",
            "upload_url",
            "auth_url",
            "requests_per_minute",
            "active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.credentials or {}
        for key in ALL_CREDENTIAL_KEYS:
            if stored.get(key):
                field = self.fields[secret_field_name(key)]
                field.widget.attrs["placeholder"] = _("•••••• saved — leave empty to keep")
                field.help_text = _("Saved.")

    def secret_fields(self):
        return [self[secret_field_name(k)] for k in ALL_CREDENTIAL_KEYS]

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        if not channel:
            return cleaned
        stored = dict(self.instance.credentials or {}) if self.instance.channel == channel else {}
        merged = {}
        for key in channel_facts(channel).credential_keys:
            value = cleaned.get(secret_field_name(key)) or stored.get(key, "")
            if not value:
                self.add_error(
                    secret_field_name(key),
                    _("%(channel)s needs this credential.") % {"channel": channel},
                )
            merged[key] = value
        self._credentials = merged
        return cleaned

    def save(self, commit=True):
        self.instance.credentials = self._credentials
        return super().save(commit=commit)


# One write-only password field per credential key, declared on the class so that the admin's
# fieldsets and every page see the same fields.
for _key in ALL_CREDENTIAL_KEYS:
    _field = forms.CharField(
        label=CREDENTIAL_LABELS[_key],
        required=False,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password", "data-credential": _key}
        ),
    )
    IntegrationForm.base_fields[secret_field_name(_key)] = _field
    IntegrationForm.declared_fields[secret_field_name(_key)] = _field

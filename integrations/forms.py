"""The integration form, shared by the V1 and V2 pages and the admin.

Credentials are write-only: each secret has a password field that is always rendered empty;
left empty, the stored value stays. Stored values never go back into the HTML. When an address
(API, upload or auth URL) or the channel changes, the stored values are not kept: the channel's
secrets must be entered again (Integration.save drops them otherwise).
"""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from integrations.channels import ALL_CREDENTIAL_KEYS, CREDENTIAL_LABELS, channel_facts
from integrations.models import Integration
from xsale.urlsafety import UnsafeURL, check_url

URL_CHANGE_HELP = _("Changing this address deletes the saved credentials: enter them again.")


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
        help_texts = {
            "api_url": URL_CHANGE_HELP,
            "upload_url": format_lazy("{} {}", _("Allegro's image upload host."), URL_CHANGE_HELP),
            "auth_url": format_lazy(
                "{} {}",
                _("OAuth token endpoint, where it is not under the API URL."),
                URL_CHANGE_HELP,
            ),
        }

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

    def _clean_outbound_url(self, name):
        url = self.cleaned_data.get(name)
        if url:
            try:
                check_url(url)
            except UnsafeURL as error:
                raise forms.ValidationError(str(error), code="unsafe_url") from None
        return url

    def clean_api_url(self):
        return self._clean_outbound_url("api_url")

    def clean_upload_url(self):
        return self._clean_outbound_url("upload_url")

    def clean_auth_url(self):
        return self._clean_outbound_url("auth_url")

    def urls_changed(self) -> bool:
        return self.instance.pk is not None and any(
            name in self.changed_data for name in Integration.URL_FIELDS
        )

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        if not channel:
            return cleaned
        keep_stored = self.instance.channel == channel and not self.urls_changed()
        stored = dict(self.instance.credentials or {}) if keep_stored else {}
        merged = {}
        for key in channel_facts(channel).credential_keys:
            value = cleaned.get(secret_field_name(key)) or stored.get(key, "")
            if not value:
                if self.urls_changed():
                    message = _("The address changed: enter this credential again.")
                else:
                    message = _("%(channel)s needs this credential.") % {"channel": channel}
                self.add_error(secret_field_name(key), message)
            merged[key] = value
        self._credentials = merged
        return cleaned

    def save(self, commit=True):
        self.instance.replace_credentials(self._credentials)
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

"""The integration form, shared by the V1 and V2 pages and the admin.

Credentials are write-only: each secret has a password field that is always rendered empty;
left empty, the stored value stays. Stored values never go back into the HTML. When an address
(API, upload or auth URL) or the channel changes, the stored values are not kept: the channel's
secrets must be entered again (Integration.save drops them otherwise).
"""

import json
import unicodedata
from urllib.parse import urlsplit

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from integrations.channels import (
    ALL_CREDENTIAL_KEYS,
    ALL_SETTING_KEYS,
    CHANNEL_FACTS,
    CREDENTIAL_LABELS,
    DESCRIPTORS,
    SETTING_LABELS,
    Channel,
    channel_facts,
    descriptor,
)
from integrations.models import Integration
from xsale.urlsafety import UnsafeURL, check_url

SECRET_NOT_KEPT_HELP = _(
    "What you typed here was not kept: secrets are never shown again, not even after a failed "
    "save. Type it again."
)

URL_CHANGE_HELP = _("Changing this address deletes the saved credentials: enter them again.")

# Settings only some channels use; a field not listed here is every channel's.
CHANNEL_URL_FIELDS = {
    name: tuple(d.value for d in DESCRIPTORS if name in d.url_fields)
    for name in ("upload_url", "auth_url")
}


def field_channels(name: str) -> tuple[str, ...] | None:
    """The channels a form field belongs to, or None when every channel uses it."""
    if name in CHANNEL_URL_FIELDS:
        return tuple(CHANNEL_URL_FIELDS[name])
    if name.startswith("secret_"):
        key = name.removeprefix("secret_")
        return tuple(c for c, facts in CHANNEL_FACTS.items() if key in facts.credential_keys)
    if name.startswith("setting_"):
        key = name.removeprefix("setting_")
        return tuple(c for c, facts in CHANNEL_FACTS.items() if key in facts.settings)
    return None


def secret_field_name(key: str) -> str:
    return f"secret_{key}"


def setting_field_name(key: str) -> str:
    return f"setting_{key}"


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
            "sync_changes",
            "reconcile_every",
            "reconcile_at",
        ]
        widgets = {"reconcile_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}
        help_texts = {
            "api_url": URL_CHANGE_HELP,
            "upload_url": format_lazy("{} {}", _("Allegro's image upload host."), URL_CHANGE_HELP),
            "auth_url": format_lazy(
                "{} {}",
                _("OAuth token endpoint, where it is not under the API URL."),
                URL_CHANGE_HELP,
            ),
        }

    higher_limit_agreed = forms.BooleanField(
        label=_("I have a higher limit agreed with the channel"),
        required=False,
        help_text=_("Only needed for more requests per minute than the channel publishes."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.credentials or {}
        for key in ALL_CREDENTIAL_KEYS:
            if stored.get(key):
                field = self.fields[secret_field_name(key)]
                field.widget.attrs["placeholder"] = _("•••••• saved")
                field.help_text = _("Saved — leave empty to keep it.")
        limit = CHANNEL_FACTS.get(self.instance.channel)
        if limit and (self.instance.requests_per_minute or 0) > limit.requests_per_minute:
            self.initial.setdefault("higher_limit_agreed", True)
        for key in ALL_SETTING_KEYS:
            value = (self.instance.channel_settings or {}).get(key)
            if value:
                self.initial.setdefault(setting_field_name(key), value)
        # An address the channel has by default may be left empty (Amazon's EU endpoint).
        self.fields["api_url"].required = False
        self._setting_selects()
        self._mark_channel_fields()
        # Left out of a form posted without them (an older page, a script): unchanged.
        for name in ("reconcile_every", "reconcile_at"):
            self.fields[name].required = False
        # Shown only when it matters: above the limit (the script shows it as the number grows).
        agreed = self.fields["higher_limit_agreed"]
        agreed.widget.attrs["data-higher-limit"] = ""
        agreed.off_channel = not (self.initial.get("higher_limit_agreed") or self.is_bound)

    def _setting_selects(self) -> None:
        """Settings a channel has a list for (Amazon's marketplace) are chosen from it, not
        typed; a saved value the list does not have (an older or newer one) stays selectable
        as it is."""
        for d in DESCRIPTORS:
            for key, choice in d.setting_choices.items():
                name = setting_field_name(key)
                field = self.fields[name]
                choices = [(group, list(values)) for group, values in choice.groups]
                saved = (self.instance.channel_settings or {}).get(key) or ""
                if saved and saved not in choice.values():
                    choices.insert(0, (_("Saved"), [(saved, choice.unknown_label % {"id": saved})]))
                field.widget = forms.Select(choices=choices, attrs=field.widget.attrs)
                field.label = choice.label
                field.help_text = choice.help_text
                self.initial.setdefault(name, saved or d.facts.settings[key])

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or not self._errors:
            return
        # The page comes back with every value typed, but a password field never renders its
        # value: say so beside each secret that was typed, so that it is typed again.
        for key in ALL_CREDENTIAL_KEYS:
            name = secret_field_name(key)
            if self.data.get(self.add_prefix(name)):
                self.fields[name].help_text = SECRET_NOT_KEPT_HELP
                self.fields[name].secret_not_kept = True
                self[name].help_text = SECRET_NOT_KEPT_HELP  # the bound field, made already

    def secrets_not_kept(self) -> bool:
        return any(getattr(f, "secret_not_kept", False) for f in self.fields.values())

    def error_summary(self) -> list[dict]:
        """What to fix, in the page's order: each field's label, its errors and the id of its
        input (for the banner's links); errors of no one field first, without an id."""
        summary = [{"label": "", "errors": list(self.non_field_errors()), "id": ""}]
        summary = [item for item in summary if item["errors"]]
        order = [*SETTINGS_FIELDS, *(secret_field_name(k) for k in ALL_CREDENTIAL_KEYS)]
        for name in order:
            if name in self.errors and name in self.fields:
                bound = self[name]
                summary.append(
                    {"label": bound.label, "errors": list(bound.errors), "id": bound.id_for_label}
                )
        return summary

    def clean_reconcile_every(self):
        return self.cleaned_data.get("reconcile_every") or self.instance.reconcile_every

    def clean_reconcile_at(self):
        return self.cleaned_data.get("reconcile_at") or self.instance.reconcile_at

    def settings_fields(self):
        """The non-secret fields in page order (the checkbox right below requests/min)."""
        return [self[name] for name in SETTINGS_FIELDS]

    def current_channel(self) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix("channel"), "") or ""
        return self.initial.get("channel") or self.instance.channel or ""

    def _mark_channel_fields(self) -> None:
        """Tag each channel's own fields for static/xsale/channel-fields.js, which shows only
        the chosen channel's; `off_channel` lets the page hide the others before any script."""
        channel = self.current_channel()
        limits = {c: f.requests_per_minute for c, f in CHANNEL_FACTS.items()}
        rpm = self.fields["requests_per_minute"]
        rpm.widget.attrs.update({"min": 1, "data-channel-limits": _json(limits)})
        if channel in limits:
            rpm.help_text = _(
                "Empty: the channel's published limit (%(limit)s requests per minute)."
            ) % {"limit": limits[channel]}
        for name, field in self.fields.items():
            channels = field_channels(name)
            if channels is None:
                continue
            field.widget.attrs["data-channels"] = " ".join(channels)
            field.off_channel = bool(channel) and channel not in channels

    def secret_fields(self):
        return [self[secret_field_name(k)] for k in ALL_CREDENTIAL_KEYS]

    def clean_name(self):
        # Names are shown everywhere: pages, CSV files, the subject of the finish e-mail.
        name = self.cleaned_data.get("name") or ""
        if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in name):
            raise forms.ValidationError(
                _("The name cannot contain line breaks, tabs or other control characters."),
                code="control_characters",
            )
        return name

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
        """Whether a URL the integration keeps differs from the stored one (after another
        channel's URL fields were cleared)."""
        cleaned = getattr(self, "cleaned_data", {})
        return self.instance.pk is not None and any(
            (cleaned.get(name) or "") != (getattr(self.instance, name) or "")
            for name in Integration.URL_FIELDS
            if name in cleaned
        )

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        if not channel:
            return cleaned
        self._clean_channel_fields(cleaned, channel)
        self._clean_channel_settings(cleaned, channel)
        keep_stored = self.instance.channel == channel and not self.urls_changed()
        stored = dict(self.instance.credentials or {}) if keep_stored else {}
        merged = {}
        for key in channel_facts(channel).credential_keys:
            value = cleaned.get(secret_field_name(key)) or stored.get(key, "")
            if not value:
                if self.urls_changed():
                    message = _("The address changed: enter this credential again.")
                else:
                    message = _("%(channel)s needs this credential.") % {
                        "channel": Channel(channel).label
                    }
                self.add_error(secret_field_name(key), message)
            merged[key] = value
        self._credentials = merged
        return cleaned

    def _clean_channel_settings(self, cleaned, channel) -> None:
        """The channel's own settings (its defaults where left empty); a required one that
        is empty is an error. Amazon downloads photos from xSale's public address: it must be
        https (a sandbox host of OUTBOUND_ALLOWED_HOSTS excepted)."""
        facts = channel_facts(channel)
        values = {}
        for key, default in facts.settings.items():
            value = (cleaned.get(setting_field_name(key)) or "").strip() or default
            if not value:
                self.add_error(
                    setting_field_name(key),
                    _("%(channel)s needs this setting.") % {"channel": Channel(channel).label},
                )
            values[key] = value
        for key, choice in descriptor(channel).setting_choices.items():
            saved = (self.instance.channel_settings or {}).get(key)
            value = values.get(key)
            if value and value not in choice.values() and value != saved:
                self.add_error(setting_field_name(key), choice.invalid_message)
        self._channel_settings = values
        if descriptor(channel).fetches_photos_from_site:
            self._check_public_address(cleaned)

    def _check_public_address(self, cleaned) -> None:
        from django.conf import settings

        from xsale.urlsafety import is_allowed_host

        host = urlsplit(cleaned.get("api_url") or "").hostname or ""
        if is_allowed_host(host):
            return
        if not settings.SITE_URL.startswith("https://"):
            self.add_error(
                None,
                _(
                    "Amazon downloads the offers' photos from xSale's public address, which must "
                    "be https: set SITE_URL (now “%(site)s”) to this xSale's public https "
                    "address."
                )
                % {"site": settings.SITE_URL or "—"},
            )

    def _clean_channel_fields(self, cleaned, channel) -> None:
        """Another channel's URLs are cleared; requests/min stays within the channel's limit."""
        for name, channels in CHANNEL_URL_FIELDS.items():
            if channel not in channels:
                cleaned[name] = ""
        default_api = channel_facts(channel).default_urls.get("api_url")
        if not cleaned.get("api_url") and "api_url" not in self.errors:
            if default_api:
                cleaned["api_url"] = self.instance.api_url = default_api
            else:
                self.add_error("api_url", forms.Field.default_error_messages["required"])
        rpm = cleaned.get("requests_per_minute")
        if rpm is None:
            return
        limit = channel_facts(channel).requests_per_minute
        if rpm < 1:
            self.add_error(
                "requests_per_minute",
                _("At least 1 request per minute; leave it empty for the channel's limit."),
            )
        elif rpm > limit and not cleaned.get("higher_limit_agreed"):
            self.add_error(
                "requests_per_minute",
                _(
                    "%(channel)s publishes a limit of %(limit)s requests per minute. Above it "
                    "only with a higher limit agreed with the channel: tick the box below."
                )
                % {"channel": Channel(channel).label, "limit": limit},
            )

    def save(self, commit=True):
        self.instance.replace_credentials(self._credentials)
        self.instance.channel_settings = self._channel_settings
        return super().save(commit=commit)


# The non-secret fields in page order (the admin's fieldsets too): a channel's own settings
# after its addresses.
SETTINGS_FIELDS = [*IntegrationForm.Meta.fields]
SETTINGS_FIELDS.insert(SETTINGS_FIELDS.index("requests_per_minute") + 1, "higher_limit_agreed")
_after_urls = SETTINGS_FIELDS.index("auth_url") + 1
SETTINGS_FIELDS[_after_urls:_after_urls] = [setting_field_name(k) for k in ALL_SETTING_KEYS]


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"))


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

# One plain field per channel setting (shown, not secret); empty takes the channel's default.
for _key in ALL_SETTING_KEYS:
    _defaults = {facts.settings[_key] for facts in CHANNEL_FACTS.values() if _key in facts.settings}
    _default = next(iter(_defaults - {""}), "")
    _field = forms.CharField(
        label=SETTING_LABELS[_key],
        required=False,
        strip=True,
        max_length=100,
        help_text=format_lazy(_("Empty: {default}."), default=_default) if _default else "",
    )
    IntegrationForm.base_fields[setting_field_name(_key)] = _field
    IntegrationForm.declared_fields[setting_field_name(_key)] = _field

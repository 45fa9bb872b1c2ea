from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from integrations import resync
from integrations.channels import ALL_CREDENTIAL_KEYS
from integrations.forms import IntegrationForm, secret_field_name
from integrations.models import Integration, ResyncFailure, ResyncRun
from integrations.views import RESYNC_PERMISSION, progress_data, resync_targets

RESYNC_CONFIRMATION_TEMPLATE = "admin/integrations/integration/resync_confirmation.html"


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    list_display = ["name", "channel", "api_url", "requests_per_minute", "active"]
    list_filter = ["channel", "active"]
    search_fields = ["name"]
    actions = ["resync_offers"]
    change_form_template = "admin/integrations/integration/change_form.html"

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

    def has_resync_permission(self, request):
        return request.user.has_perm(RESYNC_PERMISSION)

    def get_urls(self):
        return [
            path(
                "<int:pk>/resync/",
                self.admin_site.admin_view(self.resync_view),
                name="integrations_integration_resync",
            ),
            *super().get_urls(),
        ]

    def start_resyncs(self, request, integrations) -> None:
        """Start one run per integration; those already running are reported and skipped."""
        started = 0
        for integration in integrations:
            try:
                resync.start_resync(integration, user=request.user, source=ResyncRun.Source.ADMIN)
            except resync.ResyncAlreadyRunning as error:
                self.message_user(request, str(error), messages.WARNING)
            except resync.ResyncError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                started += 1
        if started:
            self.message_user(
                request,
                ngettext(
                    "%(count)d resync started. It runs in the background: you may close the "
                    "browser.",
                    "%(count)d resyncs started. They run in the background: you may close the "
                    "browser.",
                    started,
                )
                % {"count": started},
                messages.SUCCESS,
            )

    def confirmation(self, request, integrations, *, action: bool):
        context = {
            **self.admin_site.each_context(request),
            "title": _("Resync offers"),
            "opts": self.model._meta,
            "targets": resync_targets(integrations),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "is_action": action,
        }
        return TemplateResponse(request, RESYNC_CONFIRMATION_TEMPLATE, context)

    @admin.action(description=_("Resync offers"), permissions=["resync"])
    def resync_offers(self, request, queryset):
        if request.POST.get("post") != "yes":
            return self.confirmation(request, list(queryset), action=True)
        self.start_resyncs(request, queryset)
        return None

    def resync_view(self, request, pk):
        """The button on the change page: the same confirmation for one integration."""
        if not self.has_resync_permission(request):
            raise PermissionDenied
        integration = get_object_or_404(Integration, pk=pk)
        if request.method == "POST":
            self.start_resyncs(request, [integration])
            return redirect(reverse("admin:integrations_integration_change", args=[pk]))
        return self.confirmation(request, [integration], action=False)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        integration = self.get_object(request, object_id)
        run = integration.latest_run() if integration else None
        extra_context.update(
            {
                "run": run,
                "progress": progress_data(run) if run else None,
                "show_resync_button": self.has_resync_permission(request),
            }
        )
        return super().change_view(request, object_id, form_url, extra_context)


class ResyncFailureInline(admin.TabularInline):
    model = ResyncFailure
    fields = ["offer", "http_status", "code", "message", "attempts"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("offer")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ResyncRun)
class ResyncRunAdmin(admin.ModelAdmin):
    """Resync runs, read-only: progress, counts and the failed offers."""

    list_display = [
        "pk",
        "integration",
        "status",
        "source",
        "requested_by",
        "processed",
        "total",
        "sent",
        "failed",
        "photos_sent",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "source", "integration"]
    list_select_related = ["integration", "requested_by"]
    fields = [
        "integration",
        "status",
        "source",
        "requested_by",
        "retry_of",
        "total",
        "processed",
        "sent",
        "failed",
        "photos_sent",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "error",
    ]
    readonly_fields = fields
    inlines = [ResyncFailureInline]
    change_form_template = "admin/integrations/resyncrun/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "run": run}
        if run:
            extra_context["progress"] = progress_data(run)
        return super().change_view(request, object_id, form_url, extra_context)

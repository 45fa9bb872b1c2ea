import time

from django.contrib import admin, messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_q import models as q_models

from integrations.channels import ALL_CREDENTIAL_KEYS
from integrations.forms import SETTINGS_FIELDS, IntegrationForm, secret_field_name
from integrations.models import RESYNC_PERMISSION, Integration, ResyncRun
from integrations.presentation.display import progress_data
from integrations.presentation.health import resync_workers_seen
from integrations.services import drift, estimates
from integrations.services import runs as resync
from integrations.services.connection import integration_test_connection
from xsale.input import ascii_number

# The bulk "Test connection" starts no new test after this long (each takes seconds).
ADMIN_TESTS_SECONDS = 20
RESYNC_CONFIRMATION_TEMPLATE = "admin/integrations/integration/resync_confirmation.html"


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationForm
    list_display = [
        "name",
        "channel",
        "api_url",
        "requests_per_minute",
        "active",
        "sync_changes",
        "reconcile_every",
    ]
    list_filter = ["channel", "active", "sync_changes", "reconcile_every"]
    search_fields = ["name"]
    actions = ["resync_offers", "check_drift", "test_connection"]
    change_form_template = "admin/integrations/integration/change_form.html"

    class Media:
        css = {"all": ["xsale/admin.css"]}

    fieldsets = [
        (None, {"fields": SETTINGS_FIELDS}),
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
            path(
                "<int:pk>/resync/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="integrations_integration_resync_cancel",
            ),
            path(
                "<int:pk>/drift/",
                self.admin_site.admin_view(self.drift_check_view),
                name="integrations_integration_drift",
            ),
            path(
                "<int:pk>/connection-test/",
                self.admin_site.admin_view(self.connection_test_view),
                name="integrations_integration_connection_test",
            ),
            *super().get_urls(),
        ]

    def start_resyncs(self, request, integrations) -> None:
        """Start one run per integration; those already running are reported and skipped.
        Every message links the run's progress."""
        started = []
        for integration in integrations:
            try:
                run = resync.start_resync(
                    integration,
                    user=request.user,
                    source=ResyncRun.Source.ADMIN,
                    **estimates.chosen_data(request.POST),
                )
            except resync.ResyncAlreadyRunning as error:
                self.message_user(
                    request,
                    format_html(
                        "{} {}", str(error), progress_link(error.run, _("See its progress."))
                    ),
                    messages.WARNING,
                )
            except resync.ResyncError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                started.append(run)
        if started:
            links = format_html_join(
                ", ", "{}", ((progress_link(run, run.integration.name),) for run in started)
            )
            self.message_user(
                request,
                format_html(
                    "{} {} {}",
                    ngettext(
                        "%(count)d resync started. It runs in the background: you may close the "
                        "browser.",
                        "%(count)d resyncs started. They run in the background: you may close "
                        "the browser.",
                        len(started),
                    )
                    % {"count": len(started)},
                    ngettext("Its progress:", "Their progress:", len(started)),
                    links,
                ),
                messages.SUCCESS,
            )

    def confirmation(self, request, integrations, *, action: bool):
        running = list(
            ResyncRun.objects.active()
            .filter(integration__in=integrations)
            .select_related("integration")
            .order_by("integration__name")
        )
        context = {
            "running": [{"run": run, "url": run_progress_url(run)} for run in running],
            "none_to_start": len(running) >= len(integrations),
            **self.admin_site.each_context(request),
            "title": _("Resync offers"),
            "opts": self.model._meta,
            "targets": estimates.resync_targets(integrations),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "is_action": action,
            **estimates.data_choice_context(integrations),
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

    @method_decorator(require_POST)
    def cancel_view(self, request, pk):
        """Cancel on the change page's progress panel (it asks first, see resync-controls.js)."""
        if not self.has_resync_permission(request):
            raise PermissionDenied
        run_id = ascii_number(request.POST.get("run"))
        if run_id is None:
            raise BadRequest("run must be a run's number")
        run = get_object_or_404(ResyncRun, pk=run_id, integration_id=pk)
        if resync.cancel_resync(run, user=request.user):
            self.message_user(
                request, _("Cancel requested: the resync stops after its current step.")
            )
        else:
            self.message_user(request, _("This resync had already ended."), messages.WARNING)
        return redirect(reverse("admin:integrations_integration_change", args=[pk]))

    # --- the drift check (issue #12): reading is cheap, so no confirmation page ----------

    def start_checks(self, request, integrations) -> None:
        for integration in integrations:
            try:
                check = drift.start_check(
                    integration, user=request.user, source=ResyncRun.Source.ADMIN
                )
            except resync.ResyncError as error:
                self.message_user(request, str(error), messages.WARNING)
                continue
            report = reverse("v2:drift_report", args=[integration.pk, check.pk])
            self.message_user(
                request,
                format_html(
                    _('The drift check of {name} has started: <a href="{url}">its report</a>.'),
                    name=integration.name,
                    url=report,
                ),
                messages.SUCCESS,
            )

    @admin.action(description=_("Check for drift"), permissions=["resync"])
    def check_drift(self, request, queryset):
        self.start_checks(request, queryset)

    def drift_check_view(self, request, pk):
        """The change page's button (a POST form): start a drift check of this integration."""
        if not self.has_resync_permission(request) or request.method != "POST":
            raise PermissionDenied
        self.start_checks(request, [get_object_or_404(Integration, pk=pk)])
        return redirect(reverse("admin:integrations_integration_change", args=[pk]))

    # --- "Testuj połączenie" (services/connection.py): a message per integration ----------

    def report_connection_tests(self, request, integrations) -> None:
        """Test each saved integration; stop starting tests after ADMIN_TESTS_SECONDS (each
        takes seconds), saying which were left."""
        started = time.monotonic()
        integrations = list(integrations)
        for index, integration in enumerate(integrations):
            if time.monotonic() - started > ADMIN_TESTS_SECONDS:
                left = ", ".join(i.name for i in integrations[index:])
                self.message_user(
                    request,
                    _("Not tested, to answer within seconds: %(names)s. Select fewer.")
                    % {"names": left},
                    messages.WARNING,
                )
                return
            check = integration_test_connection(integration_id=integration.pk)
            self.message_user(
                request,
                format_html(
                    "<strong>{}:</strong> {} {}{}",
                    integration.name,
                    _("The connection works.") if check.ok else _("The connection does not work."),
                    check.summary,
                    format_html(" <strong>{}</strong> {}", _("What to do:"), check.advice)
                    if check.advice
                    else "",
                ),
                messages.SUCCESS if check.ok else messages.ERROR,
            )

    @admin.action(description=_("Test connection"), permissions=["change"])
    def test_connection(self, request, queryset):
        self.report_connection_tests(request, queryset)

    def connection_test_view(self, request, pk):
        """The change page's button (a POST form): test the saved integration."""
        integration = get_object_or_404(Integration, pk=pk)
        if not self.has_change_permission(request, integration) or request.method != "POST":
            raise PermissionDenied
        self.report_connection_tests(request, [integration])
        return redirect(reverse("admin:integrations_integration_change", args=[pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        integration = self.get_object(request, object_id)
        run = integration.shown_run() if integration else None
        extra_context.update(admin_panel_context(request, run))
        extra_context["show_resync_button"] = self.has_resync_permission(request)
        extra_context["show_connection_test"] = self.has_change_permission(request, integration)
        extra_context["drift_unreadable"] = drift.unreadable(integration) if integration else ""
        return super().change_view(request, object_id, form_url, extra_context)


def run_progress_url(run) -> str:
    """Where a run's progress is followed: its page (live figures, plot, failures)."""
    return reverse("v2:resync_run", args=[run.integration_id, run.pk])


def progress_link(run, text) -> str:
    return format_html(
        '<a href="{}" data-run-progress="{}">{}</a>', run_progress_url(run), run.pk, text
    )


def admin_panel_context(request, run) -> dict:
    """What the progress panel needs on an admin page: Cancel posts to the admin's own view."""
    if run is None:
        return {"run": None, "progress": None}
    return {
        "run": run,
        "progress": progress_data(run),
        "can_resync": request.user.has_perm(RESYNC_PERMISSION),
        "cancel_url": reverse(
            "admin:integrations_integration_resync_cancel", args=[run.integration_id]
        ),
        "workers_down": run.is_active and not resync_workers_seen(),
    }


@admin.register(ResyncRun)
class ResyncRunAdmin(admin.ModelAdmin):
    """Resync runs, read-only: progress, counts and the failed offers."""

    list_display = [
        "__str__",
        "integration",
        "outcome_badge",
        "source",
        "requested_by",
        "processed",
        "total",
        "sent",
        "failed_count",
        "photo_files_sent",
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
        "failed_count",
        "failures_link",
        "photos_sent",
        "photo_files_sent",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "pause_reason",
        "paused_until",
        "error",
    ]
    readonly_fields = fields
    change_form_template = "admin/integrations/resyncrun/change_form.html"

    class Media:
        css = {"all": ["xsale/admin.css"]}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("result"), ordering="status")
    def outcome_badge(self, run):
        return format_html(
            '<span class="status status-{}">{}</span>', run.outcome, run.outcome_display
        )

    @admin.display(description=_("Failed"), ordering="failed")
    def failed_count(self, run):
        return run.failed

    @admin.display(description=_("failed offers"))
    def failures_link(self, run):
        """The failures live on the run's page (grouped, paged, exported), not in this form."""
        if not run.failed:
            return "—"
        url = reverse("v2:resync_run", args=[run.integration_id, run.pk])
        return format_html(
            '<a href="{}" data-run-failures-link>{}</a>',
            url,
            ngettext(
                "%(count)d failed offer: by reason, paged, CSV",
                "%(count)d failed offers: by reason, paged, CSV",
                run.failed,
            )
            % {"count": run.failed},
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), **admin_panel_context(request, run)}
        return super().change_view(request, object_id, form_url, extra_context)


# --- django-q2's task admin: superusers only ------------------------------------------------
# Its pages ("Failed tasks", "Scheduled tasks", "Queued tasks", …) speak only English and show
# the workers' internals: an operator's tool, not a seller's. Superusers keep it; staff users
# with model permissions (sellers) no longer see it in the admin's menu or reach its pages.


def superusers_only(model_admin_class):
    class SuperusersOnly(model_admin_class):
        def has_module_permission(self, request):
            return request.user.is_superuser

        def has_view_permission(self, request, obj=None):
            return request.user.is_superuser

        def has_add_permission(self, request, *args):
            return request.user.is_superuser and super().has_add_permission(request, *args)

        def has_change_permission(self, request, obj=None):
            return request.user.is_superuser and super().has_change_permission(request, obj)

        def has_delete_permission(self, request, obj=None):
            return request.user.is_superuser and super().has_delete_permission(request, obj)

    SuperusersOnly.__name__ = f"SuperusersOnly{model_admin_class.__name__}"
    return SuperusersOnly


for task_model in (q_models.Schedule, q_models.Success, q_models.Failure, q_models.OrmQ):
    if admin.site.is_registered(task_model):
        task_admin = type(admin.site.get_model_admin(task_model))
        admin.site.unregister(task_model)
        admin.site.register(task_model, superusers_only(task_admin))

"""The integration pages of both layouts: V2's URLconf, and the patterns V1 mounts too.

The same views are mounted twice under the application namespace "integrations": instance "v2"
(the modern pages) and "v1" (Konfiguracja → Ogólne → Integracje). Templates and views reverse
"integrations:<name>" and land in the layout they are in.
"""

from django.urls import path

from integrations.pages import connection as connection_views
from integrations.pages import drift as drift_views
from integrations.pages import integrations as integration_views
from integrations.pages import offers, sync_log
from integrations.pages import reconcile as reconcile_views
from integrations.pages import runs as run_views
from integrations.pages import sync as sync_views


def integration_patterns(prefix: str) -> list:
    return [
        path(prefix, integration_views.integration_list, name="integration_list"),
        path(f"{prefix}new/", integration_views.integration_add, name="integration_add"),
        path(f"{prefix}<int:pk>/", integration_views.integration_edit, name="integration_edit"),
        path(f"{prefix}<int:pk>/resync/", run_views.resync_confirm, name="resync_confirm"),
        path(
            f"{prefix}<int:pk>/connection-test/",
            connection_views.connection_test,
            name="connection_test",
        ),
        path(f"{prefix}<int:pk>/resync/cancel/", run_views.resync_cancel, name="resync_cancel"),
        path(f"{prefix}<int:pk>/resync/retry/", run_views.resync_retry, name="resync_retry"),
        path(f"{prefix}<int:pk>/resync/resume/", run_views.resync_resume, name="resync_resume"),
        path(f"{prefix}<int:pk>/runs/<int:run_id>/", run_views.resync_run, name="resync_run"),
        path(
            f"{prefix}<int:pk>/runs/<int:run_id>/failures.csv",
            run_views.resync_failures_csv,
            name="resync_failures_csv",
        ),
        path(
            f"{prefix}<int:pk>/resync/progress.json",
            run_views.resync_progress,
            name="resync_progress",
        ),
        # The drift check (pages/drift.py).
        path(f"{prefix}<int:pk>/drift/", drift_views.drift_check_start, name="drift_check"),
        path(
            f"{prefix}<int:pk>/drift/<int:run_pk>/", drift_views.drift_report, name="drift_report"
        ),
        path(
            f"{prefix}<int:pk>/drift/<int:run_pk>/report.csv",
            drift_views.drift_report_csv,
            name="drift_report_csv",
        ),
        path(f"{prefix}<int:pk>/drift/<int:run_pk>/fix/", drift_views.drift_fix, name="drift_fix"),
        # Everyday sync (pages/sync.py).
        path(f"{prefix}<int:pk>/sync/wave/", sync_views.sync_wave, name="sync_wave"),
        path(f"{prefix}<int:pk>/sync/retry/", sync_views.sync_retry, name="sync_retry"),
        # Everyday sync: the switch and reconciliation's questions (pages/reconcile.py).
        path(
            f"{prefix}<int:pk>/sync-changes/",
            reconcile_views.sync_changes_switch,
            name="sync_changes_switch",
        ),
        path(
            f"{prefix}<int:pk>/reconciliations/<int:record_pk>/confirm/",
            reconcile_views.reconcile_confirm,
            name="reconcile_confirm",
        ),
        path(
            f"{prefix}<int:pk>/reconciliations/<int:record_pk>/dismiss/",
            reconcile_views.reconcile_dismiss,
            name="reconcile_dismiss",
        ),
    ]


# V2 (this module is its URLconf; V1's is v1_urls.py).
urlpatterns = integration_patterns("integrations/") + [
    path("sync-log/", sync_log.sync_log, name="sync_log"),
    path("offers/<int:pk>/", offers.offer_detail, name="offer_detail"),
    path(
        "offers/<int:pk>/channels/<int:integration_pk>/external-id/",
        offers.offer_external_id,
        name="offer_external_id",
    ),
]

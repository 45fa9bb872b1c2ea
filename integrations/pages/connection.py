""" "Testuj połączenie" on the integration page of both layouts (services/connection.py).

The test runs when the button is pressed (a POST, within seconds) and its result is kept in
the session for the page it redirects to, which shows it once.
"""

from dataclasses import asdict
from datetime import datetime

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from integrations.models import Integration
from integrations.pages.access import layout_url, view_permission_required
from integrations.services.connection import integration_test_connection

SESSION_KEY = "connection_tests"
# Testing uses the stored secrets and spends the channel's budgets: for whoever may change the
# integration's settings, which is what a failed test asks them to do.
TEST_PERMISSION = "integrations.change_integration"


@require_POST
@login_required
@view_permission_required
@permission_required(TEST_PERMISSION, raise_exception=True)
def connection_test(request, pk):
    integration = get_object_or_404(Integration, pk=pk)
    check = integration_test_connection(integration_id=integration.pk)
    results = request.session.get(SESSION_KEY, {})
    results[str(integration.pk)] = {**asdict(check), "tested_at": timezone.now().isoformat()}
    request.session[SESSION_KEY] = results
    return redirect(layout_url(request, "integration_edit", pk) + "#connection-test")


def shown_result(request, integration) -> dict | None:
    """The last test's result for this integration, once (the page after the test)."""
    results = request.session.get(SESSION_KEY)
    if not results or str(integration.pk) not in results:
        return None
    result = results.pop(str(integration.pk))
    request.session[SESSION_KEY] = results
    result["tested_at"] = datetime.fromisoformat(result["tested_at"])
    return result

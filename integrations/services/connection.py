""" "Testuj połączenie": test a saved integration's connection to its channel.

What is tested is the integration as saved — never values typed in a form and not saved, so a
changed URL can never carry the stored secrets to a new host (docs/architecture.md, trust
boundaries). The test is the
adapter's (ChannelAdapter.test_connection, shopconnect/connection.py): one or two cheap
authenticated reads, within seconds, spending the channel's budgets like any request, sending
nothing to any offer; a token refreshed on the way is written back.
"""

import logging

from integrations.engine.store import adapter_for
from integrations.models import Integration
from integrations.shopconnect.base import ConnectionCheck
from integrations.shopconnect.connection import test_deadline

logger = logging.getLogger("integrations.connection")


def integration_test_connection(*, integration_id: int) -> ConnectionCheck:
    """The saved integration's connection test (read again from the database)."""
    integration = Integration.objects.get(pk=integration_id)
    check = adapter_for(integration).test_connection(deadline=test_deadline())
    logger.info(
        "%r: connection test %s", integration, "passed" if check.ok else f"found {check.problem}"
    )
    return check

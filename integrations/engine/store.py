"""The engine's side of the channels' port (shopconnect/store.py): what a channel keeps, written
to the database here, never by the channel's package (docs/architecture.md, talking to
channels). `adapter_for` is how the core builds an adapter that may keep things."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations import shopconnect
from integrations.models import ChannelBatch, ChannelJob, Integration
from integrations.shopconnect.auth import credentials_fingerprint
from integrations.shopconnect.store import ChannelJobInfo, ChannelStore

logger = logging.getLogger("integrations.shopconnect")

# The engine's mark on a batch whose registration request went to a channel that takes no
# idempotency key, while its answer is not kept yet ("sent, answer not kept"): a later task
# asks the adapter's `find_submitted` instead of sending it again (engine/batches.py).
SUBMIT_SENT_AT = "submit_sent_at"


def adapter_for(integration):
    """The integration's adapter, keeping what it must through the database."""
    return shopconnect.adapter_for(integration, store=DatabaseStore(integration))


def _job(row: ChannelJob) -> ChannelJobInfo:
    return ChannelJobInfo(
        purpose=row.purpose, job_id=row.job_id, finished=row.finished, created_at=row.created_at
    )


class DatabaseStore(ChannelStore):
    def __init__(self, integration):
        self.integration = integration

    # --- credentials -------------------------------------------------------------------

    def save_credentials(self, new: dict, made_with: str, token_keys) -> dict | None:
        """Only the token keys are merged, into the credentials as they are in the database
        now (under a row lock): a secret the seller saved meanwhile stays. And only when the
        row's URLs and other credentials are still those the refresh was made with: an
        integration pointed at another host meanwhile never receives live tokens."""
        with transaction.atomic():
            row = Integration.objects.select_for_update().filter(pk=self.integration.pk).first()
            if row is None or credentials_fingerprint(row, token_keys) != made_with:
                logger.info(
                    "%s: URLs or credentials changed since the token refresh; token not stored",
                    repr(row or self.integration),
                )
                return None
            merged = {**(row.credentials or {}), **new}
            Integration.objects.filter(pk=row.pk).update(credentials=merged)
        logger.info("%s: stored the refreshed access token", repr(self.integration))
        return merged

    # --- jobs --------------------------------------------------------------------------

    def _jobs(self, purpose: str):
        return ChannelJob.objects.filter(integration_id=self.integration.pk, purpose=purpose)

    def job(self, purpose: str) -> ChannelJobInfo | None:
        row = self._jobs(purpose).first()
        return None if row is None else _job(row)

    def start_job(self, purpose: str, job_id: str) -> ChannelJobInfo:
        row, __ = ChannelJob.objects.update_or_create(
            integration_id=self.integration.pk,
            purpose=purpose,
            defaults={"job_id": job_id, "finished": False, "created_at": timezone.now()},
        )
        return _job(row)

    def finish_job(self, purpose: str) -> None:
        self._jobs(purpose).update(finished=True)

    def drop_job(self, purpose: str) -> None:
        self._jobs(purpose).delete()

    # --- batches being submitted -------------------------------------------------------

    @staticmethod
    def _note(batch, status: str, values: dict) -> None:
        changes = {**(batch.changes or {}), **values}
        ChannelBatch.objects.filter(pk=batch.pk, status=status).update(changes=changes)
        batch.changes = changes

    def note(self, batch, **values) -> None:
        self._note(batch, ChannelBatch.Status.PREPARED, values)

    def note_reading(self, batch, **values) -> None:
        self._note(batch, ChannelBatch.Status.SUBMITTED, values)

    def submitting(self, batch) -> None:
        self.note(batch, **{SUBMIT_SENT_AT: timezone.now().isoformat()})

    def not_submitted(self, batch) -> None:
        self.note(batch, **{SUBMIT_SENT_AT: None})

    def _scope(self, batch, scope: dict | None):
        """The batches of the same operation a run's or an everyday change's (no run) of the
        integration — or of every integration whose settings match `scope`."""
        batches = ChannelBatch.objects.filter(operation=batch.operation)
        if scope is None:
            pk = self.integration.pk
            return batches.filter(Q(run__integration_id=pk) | Q(integration_id=pk))
        runs = Q(**{f"run__integration__channel_settings__{k}": v for k, v in scope.items()})
        everyday = Q(**{f"integration__channel_settings__{k}": v for k, v in scope.items()})
        return batches.filter(runs | everyday)

    def refs_known(self, batch, name: str, refs: list[str], *, scope: dict | None) -> set[str]:
        if not refs:
            return set()
        found = self._scope(batch, scope).filter(**{f"changes__{name}__in": refs})
        return {changes.get(name) for changes in found.values_list("changes", flat=True)}

    def submits_in_doubt(self, batch, *, scope: dict | None) -> list[datetime]:
        others = self._scope(batch, scope).filter(status=ChannelBatch.Status.PREPARED)
        return [
            datetime.fromisoformat(changes[SUBMIT_SENT_AT])
            for changes in others.exclude(pk=batch.pk).values_list("changes", flat=True)
            if changes.get(SUBMIT_SENT_AT)
        ]

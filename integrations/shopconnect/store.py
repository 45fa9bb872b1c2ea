"""The port through which a channel keeps what it must (issue 25 item 2): channels and the
transport never touch the database; the engine hands each adapter a `ChannelStore`
(engine/store.py writes it to the database).

What a channel may keep:

- **refreshed credentials** (a rotated refresh token), merged into the integration only while
  its URLs and other secrets are those the refresh was made with (`save_credentials`);
- **jobs** it carries out over several tasks (Amazon's listings report a drift check waits
  for), one per purpose (`job`, `start_job`, `finish_job`, `drop_job`);
- **notes on a batch** being submitted (Amazon: the uploaded feed document), written only
  while the batch is still being submitted (`note`), and what other batches of the same
  operation already hold (`refs_known`, `submits_in_doubt`), to find a registration whose
  answer was lost (engine/batches.py, "submitted, not yet confirmed");
- **notes on a batch** being read (Mirakl: an import's error reports already read), written
  only while the batch is submitted and not yet finished (`note_reading`).

`NoStore` is the store of an adapter built only to read (an offer page's `listing_key`):
anything it would write raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ChannelJobInfo:
    """A job the channel carries out for an integration (ChannelJob, read through the port)."""

    purpose: str
    job_id: str
    finished: bool
    created_at: datetime


class ChannelStore:
    """The port: every method a channel may call to keep something (engine/store.py)."""

    def save_credentials(self, new: dict, made_with: str, token_keys) -> dict | None:
        """Merge `new` into the integration's credentials when its URLs and other secrets
        still have the fingerprint `made_with` (auth.credentials_fingerprint over every
        credential but `token_keys`): the merged credentials, or None when not stored."""
        raise NotImplementedError

    def job(self, purpose: str) -> ChannelJobInfo | None:
        raise NotImplementedError

    def start_job(self, purpose: str, job_id: str) -> ChannelJobInfo:
        """Remember a new job for `purpose`, replacing the one before."""
        raise NotImplementedError

    def finish_job(self, purpose: str) -> None:
        raise NotImplementedError

    def drop_job(self, purpose: str) -> None:
        raise NotImplementedError

    def note(self, batch, **values) -> None:
        """Keep `values` in the batch's `changes` while it is still being submitted (the
        engine's status check: a batch another task moved on is not written)."""
        raise NotImplementedError

    def note_reading(self, batch, **values) -> None:
        """Keep `values` in the batch's `changes` while the channel is being asked for its
        outcome (submitted, not finished): what one look learnt that the next need not ask."""
        raise NotImplementedError

    def submitting(self, batch) -> None:
        """The batch's registration request goes now and the channel takes no idempotency
        key: until the engine keeps the answer, the batch is "sent, answer not kept", and a
        later task asks the adapter's `find_submitted` instead of sending it again."""
        raise NotImplementedError

    def not_submitted(self, batch) -> None:
        """The registration request announced by `submitting` did not go after all (a budget
        held it back before anything was sent)."""
        raise NotImplementedError

    def refs_known(self, batch, name: str, refs: list[str], *, scope: dict | None) -> set[str]:
        """Which of `refs` batches of this operation already keep under `name` (registered:
        `BatchSubmission.keep`), among the integrations whose channel settings hold `scope`
        (Amazon: the seller), or of this integration only when `scope` is None (Mirakl: an
        import id is the operator's, the list read is the shop's)."""
        raise NotImplementedError

    def submits_in_doubt(self, batch, *, scope: dict | None) -> list[datetime]:
        """When the other batches of this operation (the scope of `refs_known`) that are
        "sent, answer not kept" sent their registration request."""
        raise NotImplementedError


class NoStore(ChannelStore):
    """An adapter built to read only: nothing is kept (reading a job finds none)."""

    def job(self, purpose: str) -> ChannelJobInfo | None:
        return None

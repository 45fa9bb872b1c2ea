"""What the HTTP adapters share: offer snapshots, bounded concurrency, token write-back.

Worker threads never touch the ORM: `snapshot()` copies what a payload needs from the
prefetched offer in the calling thread; only photo files are read in the workers (storage, not
the database). New tokens are written to `Integration.credentials` from the calling thread,
which checks for them every POLL_SECONDS while the workers run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import NamedTuple

from django.conf import settings

from integrations.shopconnect import request_pool
from integrations.shopconnect.auth import credentials_fingerprint
from integrations.shopconnect.base import (
    ChannelAdapter,
    ChannelAuthError,
    ConnectionCheck,
    ListingReads,
    NoListing,
    OfferResult,
    OfferToSend,
)
from integrations.shopconnect.bounded import NOT_JSON, BoundExceeded, answer_json
from integrations.shopconnect.budgets import budgets_for
from integrations.shopconnect.errors import UNBOUNDED, ChannelUnavailable, Held
from integrations.shopconnect.http import ChannelClient, client_for
from integrations.shopconnect.pacing import JobAnswers, JobOrder
from integrations.shopconnect.session import answer_what
from integrations.wording import Reason
from offers.media import photo_url

logger = logging.getLogger("integrations.shopconnect")

POLL_SECONDS = 0.2


class PhotoFile(NamedTuple):
    """A photo as a payload names it (a tuple: a chunk builds hundreds, cheaply)."""

    storage: object
    name: str
    content_type: str
    url: str

    def read(self) -> bytes:
        with self.storage.open(self.name, "rb") as fh:
            return fh.read()


@dataclass
class OfferSnapshot:
    """An offer as the adapter sends it, detached from the ORM (safe in worker threads)."""

    offer_id: int
    sku: str
    ean: str
    name: str
    description: str
    price: Decimal
    currency: str
    stock: int
    external_id: str
    send_photos: bool
    # The listing it goes to (ChannelAdapter.listing_key), set before send_snapshots.
    listing: str = ""
    send_content: bool = True
    send_prices_stock: bool = True
    parameters: list[tuple[str, str]] = field(default_factory=list)
    photos: list[PhotoFile] = field(default_factory=list)

    @property
    def price_text(self) -> str:
        # Channels that want a string amount want exactly two decimals ("129.90").
        return f"{self.price:.2f}"


def snapshot(item: OfferToSend, *, photo_urls: bool = False, related=True) -> OfferSnapshot:
    """`photo_urls`: the photos carry their public URLs (absolute_photo_url).
    `related=False`: without parameters and photos (what naming its listing needs: a channel
    that builds its files from the offers themselves, Mirakl's imports)."""
    offer = item.offer
    photos = []
    for photo in offer.photo_list() if related else ():
        image = photo.image
        photos.append(
            PhotoFile(
                storage=image.storage,
                name=image.name,
                content_type=photo.content_type or "image/jpeg",
                url=absolute_photo_url(photo_url(image)) if photo_urls else "",
            )
        )
    return OfferSnapshot(
        offer_id=offer.pk,
        sku=offer.sku,
        ean=(offer.ean or "").strip(),
        name=offer.name,
        description=offer.description or "",
        price=offer.price,
        currency=offer.currency,
        stock=max(int(offer.stock), 0),
        external_id=(item.link.external_id or "").strip(),
        send_photos=item.send_photos,
        send_content=item.send_content,
        send_prices_stock=item.send_prices_stock,
        parameters=offer.parameter_pairs() if related else [],
        photos=photos,
    )


def absolute_photo_url(url: str) -> str:
    """A photo's URL as a channel downloads it: on xSale's public address (SITE_URL)."""
    if url.startswith(("http://", "https://")):
        return url
    return f"{settings.SITE_URL}/{url.lstrip('/')}"


def snapshot_with_photo_urls(item: OfferToSend) -> OfferSnapshot:
    """A snapshot whose photos carry their public URLs, for channels that download photos
    themselves (WooCommerce, Amazon) — only when the engine decided photos go."""
    return snapshot(item, photo_urls=item.send_photos)


def failed(
    offer_id: int,
    message: str,
    *,
    http_status: int | None = None,
    code: str = "",
    attempts: int = 1,
) -> OfferResult:
    return OfferResult(
        offer_id=offer_id,
        ok=False,
        http_status=http_status,
        code=code,
        message=message,  # capped by OfferResult (base.stored_text)
        attempts=attempts,
    )


def unavailable(offer_id: int, exc: ChannelUnavailable) -> OfferResult:
    return failed(
        offer_id,
        str(exc),
        http_status=exc.http_status,
        code=exc.code,
        attempts=max(exc.attempts, 1),
    )


def deferred(offer_id: int) -> OfferResult:
    return OfferResult(offer_id=offer_id, ok=False, deferred=True, attempts=0)


MISSING_CREDENTIALS = Reason(
    "The %(channel)s integration is missing credentials: %(keys)s. Fill them in the "
    "integration's settings."
)
SEND_BROKE = Reason("xSale could not send the offer (%(error)s)")
DUPLICATE_LISTING = Reason(
    "Another offer (id %(other)s) in this batch goes to the same listing (%(listing)s); a "
    "listing can carry only one offer."
)


def duplicates_failed(
    snapshots: Sequence[OfferSnapshot], key: Callable[[OfferSnapshot], str]
) -> tuple[list[OfferSnapshot], list[OfferResult]]:
    """Keep the first offer per key (listing id, EAN); the others fail: one listing, one offer."""
    seen: dict[str, int] = {}
    kept, refused = [], []
    for snap in snapshots:
        value = key(snap)
        if value in seen:
            refused.append(
                failed(
                    snap.offer_id,
                    DUPLICATE_LISTING(other=seen[value], listing=value),
                    code="duplicate_listing",
                    attempts=0,
                )
            )
            continue
        seen[value] = snap.offer_id
        kept.append(snap)
    return kept, refused


def json_or_empty(response) -> dict | list:
    """The answer's JSON, parsed within the bounds of bounded.py (once per answer), or {} when
    it is not JSON. Raises ChannelUnavailable (code UNBOUNDED) past a bound."""
    try:
        data = answer_json(response, what=answer_what(response))
    except BoundExceeded as exc:
        from django.utils.translation import gettext as _

        raise ChannelUnavailable(
            _("%(reason)s Nothing is taken as sent.") % {"reason": exc.reason},
            http_status=response.status_code,
            attempts=getattr(response, "attempts", 1),
            code=UNBOUNDED,
        ) from None
    return {} if data is NOT_JSON else data


def settings_fingerprint(integration) -> str:
    """Changes whenever the client must be rebuilt: URLs, credentials, limits."""
    from django.conf import settings

    payload = json.dumps(
        [
            integration.channel,
            integration.api_url,
            integration.upload_url,
            integration.auth_url,
            integration.credentials,
            integration.requests_per_minute,
            getattr(settings, "CHANNEL_LIMITS", None),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class HttpChannelAdapter(ChannelAdapter):
    """An adapter whose channel is reached over HTTP through a cached `ChannelClient`."""

    # Requests of this integration in flight at once: enough that the budgets, not the
    # channel's answer time, set the speed.
    max_in_flight = 8
    required_credentials: tuple[str, ...] = ()
    # Channel settings (Integration.channel_settings) without which nothing can be sent.
    required_settings: tuple[str, ...] = ()

    def __init__(self, integration, store=None):
        super().__init__(integration, store)
        # The integration's cached client, seen through a view whose chunk state is this
        # adapter's own (http.RunClient).
        self.client: ChannelClient = client_for(
            integration.pk, settings_fingerprint(integration), self.build_client
        ).for_run()
        # Offers of the send under way with an answer (run_parallel adds each job's).
        self.answered_offers: set[int] = set()
        # The integration's URLs passed the outbound rules (checked once per adapter).
        self.urls_checked = False

    @property
    def channel_name(self) -> str:
        return self.integration.get_channel_display()

    def build_client(self) -> ChannelClient:
        auth = self.client_auth()
        token_auth = auth.get("auth")
        if token_auth is not None:
            token_auth.made_with = credentials_fingerprint(self.integration, token_auth.token_keys)
        return ChannelClient(
            channel_name=self.integration.get_channel_display(),
            budgets=budgets_for(self.integration),
            **auth,
        )

    def client_auth(self) -> dict:
        """How the client authenticates: `auth=` (a token flow) or `basic_auth=`."""
        raise NotImplementedError

    # --- "Testuj połączenie" (shopconnect/connection.py) ---------------------------------

    def test_connection(self, *, deadline: float) -> ConnectionCheck:
        from integrations.shopconnect import connection

        # A client of its own: a token cached by another request of this process would let
        # wrong secrets pass. Its budgets are the shared ones, like every client's.
        self.client = self.build_client()
        return connection.run(self, deadline=deadline)

    def probe_connection(self, probe) -> ConnectionCheck:
        """The channel's cheap authenticated read(s) through `probe` (connection.Probe):
        a ConnectionCheck when it works, else raise what is wrong (connection.failed)."""
        raise NotImplementedError

    def connection_url_hint(self) -> str:
        """The API URL the seller should have, for the advice when a host is not the API."""
        return self.integration.facts.default_urls.get("api_url", "")

    def token_url(self) -> tuple[str, str, str]:
        """(where the access token comes from, the integration field that names it, what
        that field should be), for a token host that does not answer."""
        return self.integration.api_url, "api_url", self.connection_url_hint()

    def credentials_refused(self):
        """The connection.ProbeFailed for secrets the channel refuses."""
        raise NotImplementedError

    def send_snapshots(self, snapshots: list[OfferSnapshot]) -> list[OfferResult]:
        raise NotImplementedError

    def budgets(self) -> dict:
        return self.client.budgets

    @property
    def held(self):
        return self.client.held

    @property
    def pacing(self):
        return self.client.pacing

    def stop(self) -> None:
        self.client.aborted.set()

    def snapshot(self, item: OfferToSend) -> OfferSnapshot:
        return snapshot(item)

    def answered(self) -> int:
        return len(self.answered_offers)

    def send(self, items: list[OfferToSend], *, deadline: float | None = None):
        self.answered_offers = set()
        self.check_credentials()
        self.client.start_chunk(deadline)
        ready, refused = self.keyed([self.snapshot(item) for item in items])
        try:
            return refused + self.send_snapshots(ready)
        finally:
            self.store_new_credentials()

    def keyed(self, snapshots: list[OfferSnapshot]):
        """(snapshots with their listing, results of those without one): the channel's rule
        (listing_key) names each offer's listing; an offer that names none fails with its
        reason, and of two offers naming one listing the second fails."""
        ready, refused = [], []
        for snap in snapshots:
            try:
                snap.listing = self.listing_key(snap)
            except NoListing as exc:
                refused.append(exc.result(snap.offer_id))
                continue
            ready.append(snap)
        ready, duplicates = duplicates_failed(ready, lambda s: s.listing)
        return ready, refused + duplicates

    def begin_batches(self, deadline: float | None) -> None:
        self.check_credentials()
        self.client.start_chunk(deadline)

    def check_credentials(self) -> None:
        """Refuse to send anything when a URL breaks the outbound rules or secrets are missing
        (ChannelAuthError: the run fails with the reason)."""
        from xsale.urlsafety import UnsafeURL, check_url

        if not self.urls_checked:
            for url in (
                self.integration.api_url,
                self.integration.upload_url,
                self.integration.auth_url,
            ):
                try:
                    if url:
                        check_url(url)
                except UnsafeURL as exc:
                    raise ChannelAuthError(str(exc)) from None
            self.urls_checked = True
        credentials = self.integration.credentials or {}
        missing = [k for k in self.required_credentials if not credentials.get(k)]
        if missing:
            raise ChannelAuthError(
                MISSING_CREDENTIALS(channel=self.channel_name, keys=", ".join(missing))
            )

    def store_new_credentials(self) -> None:
        """Keep refreshed tokens through the store (the engine writes them, fingerprint-
        checked: engine/store.py), from the calling thread."""
        auth = self.client.auth
        new, made_with = auth.take_new_credentials() if auth else (None, "")
        if not new:
            return
        merged = self.store.save_credentials(new, made_with, auth.token_keys)
        if merged is None:
            return
        self.integration.credentials = merged
        # The next chunk reads these credentials from the database: keep this client for it.
        self.client.fingerprint = settings_fingerprint(self.integration)

    def run_parallel(
        self,
        jobs: Sequence[tuple[Sequence[int], Callable[[], list[OfferResult]]]],
        *,
        on_answer: Callable[[list[OfferResult]], None] | None = None,
    ) -> list[OfferResult]:
        """Run `(offer_ids, job)` pairs on the process's request pool (request_pool.py), at
        most `max_in_flight` at once; collect the results. Returns once none is in flight.
        `on_answer(results)`, from this thread: the results of the offers whose every job has
        answered, as soon as the last one does (everyday sync records them at once).

        A job that breaks unexpectedly fails its own offers; a ChannelAuthError stops the rest
        and propagates.
        """
        if not jobs:
            return []
        # Results come back in job order, whatever order the jobs finish in.
        by_job: dict[int, list[OfferResult]] = {}
        heard = JobAnswers(jobs, on_answer) if on_answer else None
        order = JobOrder()  # their first spends in job order: a held offer holds all after it
        # Each job in a copy of the caller's context: its budget priority.
        calls = [partial(order.run, index, job) for index, (_, job) in enumerate(jobs)]
        lane, futures = request_pool.run_all(calls, self.max_in_flight)
        pending = {future: (index, jobs[index][0]) for index, future in enumerate(futures)}
        try:
            while pending:
                done, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                self.store_new_credentials()
                for future in done:
                    index, offer_ids = pending.pop(future)
                    by_job[index] = self._job_results(future, offer_ids)
                    self.answered_offers.update(r.offer_id for r in by_job[index] if not r.deferred)
                    if heard:
                        heard.job_done(offer_ids, by_job[index])
        except ChannelAuthError:
            self.client.aborted.set()
            lane.cancel()
            raise
        finally:
            lane.join()
        return [result for index in sorted(by_job) for result in by_job[index]]

    def read_each(self, listing_ids: list[str], read_one, fields_of, errors_of) -> ListingReads:
        """Each listing whole (a drift check's `read_full`), `read_one(id)` on the process's
        request pool, at most `max_in_flight` at once: found (`fields_of` its JSON), missing
        (404), failed (`errors_of` the answer gives the code and message) or deferred (a
        budget held it). A ChannelAuthError stops the rest and propagates."""
        reads = ListingReads()
        if not listing_ids:
            return reads
        reading = [partial(read_one, i) for i in listing_ids]
        lane, futures = request_pool.run_all(reading, self.max_in_flight)
        try:
            for future, listing_id in zip(futures, listing_ids, strict=True):
                _sort_read(reads, listing_id, future, fields_of, errors_of)
        except ChannelAuthError:
            self.client.aborted.set()
            lane.cancel()
            raise
        finally:
            lane.join()
            self.store_new_credentials()
        return reads

    def _job_results(self, future, offer_ids) -> list[OfferResult]:
        try:
            return future.result()
        except ChannelAuthError:
            raise
        except Held:
            return [deferred(offer_id) for offer_id in offer_ids]
        except ChannelUnavailable as exc:
            return [unavailable(offer_id, exc) for offer_id in offer_ids]
        except Exception as exc:
            logger.exception("%s: sending offers %s broke", repr(self.integration), list(offer_ids))
            return [
                failed(
                    offer_id,
                    SEND_BROKE(error=type(exc).__name__),
                    code="internal_error",
                )
                for offer_id in offer_ids
            ]


def _sort_read(reads: ListingReads, listing_id: str, future, fields_of, errors_of) -> None:
    try:
        response = future.result()
    except Held:
        reads.deferred.add(listing_id)
        return
    except ChannelUnavailable as exc:
        reads.failed[listing_id] = (exc.http_status, exc.code, str(exc))
        return
    data = json_or_empty(response)
    if response.status_code == 200 and isinstance(data, dict):
        reads.found[listing_id] = fields_of(data)
    elif response.status_code == 404:
        reads.missing.add(listing_id)
    else:
        code, message = errors_of(response)
        reads.failed[listing_id] = (response.status_code, code, message)

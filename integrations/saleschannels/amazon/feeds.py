"""Amazon's JSON_LISTINGS_FEED through the engine's asynchronous batches (engine/batches.py).

A run of AMAZON_FEED_THRESHOLD offers or more goes in feeds: its chunks are 10,000 offers
(facts.batch_chunk_size) and each chunk's offers are split into feeds of at most
AMAZON_FEED_MAX_MESSAGES messages (the schema's maxItems, 10,000) and under 10 MiB a document
(docs/channels/amazon.md). A message is the offer's JSON Patch (operationType PATCH — the same
patches the Listings Items path sends), `messageId` = its place in the batch + 1.

Planning a feed builds its document once, from the offers as the chunk read them (each message
serialized one time, sized as it is): the batch carries its text (`changes["payload"]`) as
Allegro's commands carry their values, and the upload sends it as it is — whichever process
submits the batch, after a crash too — never a document made again of the offers as they are.

Submitting a batch (a ChannelBatch row, written before any request; what the adapter keeps
goes through its store, engine/store.py):
1. createFeedDocument (201: id and a presigned URL, valid 5 minutes), PUT the document there
   (no token: the URL is signed). The document's id is noted on the batch, in place of its
   text: a retry creates the feed of the document uploaded.
2. createFeed {JSON_LISTINGS_FEED, marketplace, document} → 202 {feedId}. Amazon takes no
   idempotency key for createFeed and its Feed model does not name the input document, so:
   the batch is marked "sent, answer not kept" first (`store.submitting`), the request is
   never retried blindly (a 5xx or no answer may hide a registered feed), and the feed's id
   goes back to the engine with the registration (`BatchSubmission.keep`), which keeps it as
   it marks the batch submitted. A batch found "sent, answer not kept" after a crash (or a
   lost answer) is not submitted again: the engine asks `find_submitted`, which looks the
   feed up (getFeeds): the one JSON_LISTINGS_FEED of this seller and marketplace created
   since then that no other batch knows is ours (its report must count the messages we
   sent); none, once the request can no longer be in flight, means Amazon never registered
   it and it is created again; more than one cannot be told apart, and the batch is refused
   with that reason — never repeated. Before anything, the feed budgets (0.0083/s burst 15;
   5 listings feeds per 5 minutes per region) must have room within the wait a request may
   take: otherwise the run pauses (Held) with nothing spent.

Reading a batch: getFeed (2/s) until DONE; then getFeedDocument (0.0222/s) and the processing
report: each message's ERROR issues fail its offer with Amazon's code and message; a message
without one is confirmed (its WARNINGs kept as the journal's warning). Feed-level errors (no
messageId: a header Amazon refused) fail every offer when Amazon accepted no message. FATAL
and CANCELLED fail every offer with the reason (the report's issues, when there is one).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.saleschannels.amazon.documents import download, refused, text_encoding
from integrations.saleschannels.amazon.mapping import (
    amazon_errors,
    errors_of,
    issue_text,
    patches,
    photo_files,
    product_type,
)
from integrations.shopconnect import budgets as channel_budgets
from integrations.shopconnect.base import BatchPlan, BatchSubmission, OfferResult, OfferToSend
from integrations.shopconnect.bounded import BoundExceeded, json_document
from integrations.shopconnect.common import json_or_empty
from integrations.shopconnect.errors import OVERSIZED, ChannelUnavailable, Held
from integrations.wording import Reason
from xsale.urlsafety import UnsafeURL, check_url

FEED = "amazon:listings_feed"
FEED_TYPE = "JSON_LISTINGS_FEED"
CONTENT_TYPE = "application/json; charset=UTF-8"
FEEDS_API = "feeds/2021-06-30"
# Under Amazon's 10 MiB a document, with room for the header and the array's punctuation.
FEED_DOCUMENT_MAX_BYTES = 10 * 1024 * 1024 - 64 * 1024
FIRST_LOOK_SECONDS = 2.0
# A feed whose budget's room is further off pauses the run (reports are read meanwhile) rather
# than wait in its request; the sweeper wakes the run 2 s early to upload the document.
FEED_WAIT_SECONDS = 2.0
# A feed document's text around its messages (`header`'s values and `messages` filled in).
DOCUMENT_START = '{"header": {"sellerId": %s, "version": "2.0"}, "messages": ['
DOCUMENT_END = "]}"
# Issues of one message kept from a processing report (its reason names them all; more repeat).
ISSUES_KEPT = 20
CLOCK_SKEW_SECONDS = 120  # our clock against Amazon's createdTime (a lost feed's lookup)
FEED_LIST_PAGES = 10  # of 100 feeds: a seller may submit 5 listings feeds every 5 minutes
# For estimates: a message's size, measured (bench/README.md "Amazon": 50,000 offers with a
# photo, description and parameters made 10 feeds under 10 MiB — about 2 KB a message).
MESSAGE_BYTES_ESTIMATE = {"all": 2_048, "content": 2_048, "prices_stock": 512}

# Reasons stored for the offers of a feed (worded when shown: integrations/wording.py).
FEED_CANNOT_TELL = Reason(
    "Amazon may have registered this feed, but its answer was lost and Amazon's list of feeds "
    "shows %(count)s feeds xSale cannot tell apart from it (%(feeds)s): it was not sent again, "
    "so that no change is made twice. Check these offers, or resync them."
)
FEEDS_NOT_LISTED = Reason("Amazon did not list its feeds: %(message)s")
TOO_MANY_FEEDS = Reason("Amazon listed more feeds than xSale reads while looking for a lost one.")
UPLOAD_ADDRESS_REFUSED = Reason("Amazon's upload address was refused: %(error)s")
FEED_NOT_STORED = Reason("Amazon's document store refused the feed (%(status)s %(reason)s).")
FEED_NOT_KNOWN = Reason("Amazon does not know the feed %(feed)s: %(message)s")
FEED_CANCELLED = Reason("Amazon cancelled feed %(feed)s before processing it; nothing changed.")
FEED_ABORTED = Reason(
    "Amazon aborted feed %(feed)s (FATAL)%(reason)s. Some, none or all of its changes may have "
    "been made: resync these offers again."
)
FEED_FOUND_IS_ANOTHER = Reason(
    "Amazon's answer to this feed was lost; the feed xSale found in Amazon's list (%(feed)s) "
    "processed %(processed)s messages, not the %(sent)s xSale sent, so it is not this one and "
    "its report is not used. Check these offers, or resync them."
)
MESSAGE_REFUSED = Reason("Amazon refused the message.")


def max_messages() -> int:
    return max(1, settings.AMAZON_FEED_MAX_MESSAGES)


class AmazonFeeds:
    """The asynchronous hooks of the adapter contract (base.ChannelAdapter), for Amazon."""

    def goes_in_batches(self, offers: int, data_types: str) -> bool:
        return offers >= settings.AMAZON_FEED_THRESHOLD

    def message(self, snap, place) -> dict:
        """The offer's message, without its `messageId` (its place in the feed, given when the
        document is made)."""
        return {
            "sku": self.listing_key(snap),
            "operationType": "PATCH",
            "productType": product_type(snap, place),
            "patches": patches(snap, place),
        }

    def plan_batches(self, items: list[OfferToSend], *, run_offers: int, batched: bool = False):
        if not batched or not items:
            return items, []

        place = self.place
        cap = min(max_messages(), self.integration.facts.batch_chunk_size)
        start = DOCUMENT_START % json.dumps(place.seller_id, ensure_ascii=False)
        room = FEED_DOCUMENT_MAX_BYTES - len(start.encode()) - len(DOCUMENT_END)
        plans, current, size = [], [], 0
        for item in items:
            snap = self.snapshot(item)
            # Serialized once, without its id: the id is its place in the feed, known below.
            text = json.dumps(self.message(snap, place), ensure_ascii=False)[1:]
            # Sized as sent, in bytes: `{"messageId": <up to 10 digits>, ` and the ", " after.
            length = len(text.encode()) + len('{"messageId": 1000000000, , ')
            if current and (len(current) >= cap or size + length > room):
                plans.append(self._plan(start, current))
                current, size = [], 0
            files = photo_files(snap) if snap.send_photos else None
            current.append((item.offer.pk, files, f'{{"messageId": {len(current) + 1}, {text}'))
            size += length
        if current:
            plans.append(self._plan(start, current))
        return [], plans

    @staticmethod
    def _plan(start: str, offers: list[tuple[int, int | None, str]]) -> BatchPlan:
        """A feed's batch: its offers in message order, whose photos go, and its document's
        text, made once of their messages as planned (what the upload sends)."""
        ids = [offer_id for offer_id, __, __ in offers]
        photos = {str(offer_id): files for offer_id, files, __ in offers if files is not None}
        document = start + ", ".join(message for __, __, message in offers) + DOCUMENT_END
        return BatchPlan(
            operation=FEED, offer_ids=ids, changes={"photos_sent": photos, "payload": document}
        )

    def estimate_seconds(self, offers: int, data_types: str) -> tuple[float, str] | None:
        if not self.goes_in_batches(offers, data_types):
            return None
        size = MESSAGE_BYTES_ESTIMATE.get(data_types, MESSAGE_BYTES_ESTIMATE["all"])
        per_feed = min(
            max_messages(), self.integration.facts.batch_chunk_size, FEED_DOCUMENT_MAX_BYTES // size
        )
        feeds = math.ceil(offers / per_feed)
        budgets = self.budgets()
        seconds, binding = 0.0, ""
        for name in ("feeds", "listings_feeds"):
            budget = budgets.get(name)
            # A handful of feeds from fresh windows: each full window makes the next wait
            # out its length (5 feeds go at once; the 6th five minutes later).
            for limit in budget.limits if budget else ():
                needed = (math.ceil(feeds / limit.count) - 1) * limit.seconds
                if needed >= seconds:
                    seconds, binding = needed, budget.label
        label = _("%(limit)s, then Amazon's processing of the feeds") % {"limit": binding}
        return seconds + settings.AMAZON_FEED_PROCESSING_SECONDS, label

    # --- submitting -----------------------------------------------------------------------

    def feed_document(self, batch) -> bytes:
        """The JSON_LISTINGS_FEED document of the batch, as planned (`plan_batches`): its
        messages in the batch's offer order, `messageId` = the place in the batch + 1."""
        payload = batch.changes["payload"]
        if isinstance(payload, list):  # planned as messages before an upgrade, mid-run
            messages = [{"messageId": n, **m} for n, m in enumerate(payload, start=1)]
            header = {"sellerId": self.place.seller_id, "version": "2.0"}
            payload = json.dumps({"header": header, "messages": messages}, ensure_ascii=False)
        return payload.encode("utf-8")

    def _room_for_a_feed(self) -> None:
        budgets = self.budgets()
        spends = [(budgets[name], 1) for name in ("feeds", "listings_feeds") if name in budgets]
        grant = channel_budgets.peek(spends)
        if grant.wait() > FEED_WAIT_SECONDS and grant.budget is not None:
            raise Held(grant.at, budget=grant.budget, limit=grant.limit)

    def submit_batch(self, batch) -> BatchSubmission:
        self._room_for_a_feed()
        document_id = batch.changes.get("feed_document_id")
        if not document_id:
            answer = self._upload(batch)
            if isinstance(answer, BatchSubmission):
                return answer
            document_id = answer
        # Kept before the request: whatever becomes of it, a retry knows it may exist.
        self.store.submitting(batch)
        try:
            response = self.client.request(
                "POST",
                f"{self.api_url}/{FEEDS_API}/feeds",
                spend={"feeds": 1, "listings_feeds": 1, "integration": 1},
                headers={"Accept": "application/json"},
                json={
                    "feedType": FEED_TYPE,
                    "marketplaceIds": [self.place.marketplace_id],
                    "inputFeedDocumentId": document_id,
                },
                retry=False,  # no idempotency key: never sent twice blindly
            )
        except Held:
            self.store.not_submitted(batch)  # held back before anything was sent
            raise
        feed_id = json_or_empty(response).get("feedId") if response.status_code == 202 else None
        if not isinstance(feed_id, str) or not feed_id:
            code, message = amazon_errors(response)
            return BatchSubmission(
                registered=False, http_status=response.status_code, code=code, message=message
            )
        return BatchSubmission(
            registered=True, check_after=FIRST_LOOK_SECONDS, keep={"feed_id": feed_id}
        )

    def find_submitted(self, batch, sent_at: datetime) -> BatchSubmission | None:
        """The feed a createFeed whose answer was lost made, if Amazon made one.

        Amazon's `Feed` (M: feeds_2021-06-30.json) does not name its input document, so the
        feed is found by what it does carry: getFeeds lists this seller's JSON_LISTINGS_FEEDs
        for the marketplace created since the request was sent (less CLOCK_SKEW); those another
        batch already knows by id are someone else's. One left: ours (registered; the report
        is checked against the messages we sent). None, once the request can no longer be in
        flight: Amazon never registered it, so it is created now (None is returned). Several,
        or another lost createFeed of this seller in the same minutes: which one is ours
        cannot be told — the batch is refused with that reason, never submitted twice.
        Raises Held while the request may still be in flight."""
        feeds = self._feeds_since(sent_at - timedelta(seconds=CLOCK_SKEW_SECONDS))
        seller = {"seller_id": self.place.seller_id}
        known = self.store.refs_known(batch, "feed_id", feeds, scope=seller)
        unknown = [feed_id for feed_id in feeds if feed_id not in known]
        window = timedelta(seconds=settings.AMAZON_FEED_LOOKUP_AFTER_SECONDS)
        if not unknown:
            if timezone.now() < sent_at + window:
                reason = _(
                    "Amazon's answer to a feed xSale sent was lost and Amazon does not list the "
                    "feed yet; xSale looks again before it sends it, so that it never goes twice."
                )
                raise Held((sent_at + window).timestamp(), reason=reason)
            return None
        beside = self.store.submits_in_doubt(batch, scope=seller)
        if len(unknown) == 1 and not any(abs(t - sent_at) < 2 * window for t in beside):
            found = {"feed_id": unknown[0], "feed_found": True}
            return BatchSubmission(registered=True, check_after=FIRST_LOOK_SECONDS, keep=found)
        message = FEED_CANNOT_TELL(count=len(unknown), feeds=", ".join(unknown[:5]))
        return BatchSubmission(registered=False, code="feed_unknown", message=message)

    def _feeds_since(self, since) -> list[str]:
        """Ids of this seller's JSON_LISTINGS_FEEDs for the marketplace created since `since`
        (getFeeds, 100 a page, at most FEED_LIST_PAGES pages)."""
        params = {
            "feedTypes": FEED_TYPE,
            "marketplaceIds": self.place.marketplace_id,
            "createdSince": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "pageSize": 100,
        }
        ids = []
        for __ in range(FEED_LIST_PAGES):
            response = self.client.request(
                "GET",
                f"{self.api_url}/{FEEDS_API}/feeds",
                spend={"feed_lists": 1, "integration": 1},
                headers={"Accept": "application/json"},
                params=params,
            )
            data = json_or_empty(response)
            feeds = data.get("feeds") if response.status_code == 200 else None
            if not isinstance(feeds, list):
                code, message = amazon_errors(response)
                raise ChannelUnavailable(
                    FEEDS_NOT_LISTED(message=message),
                    http_status=response.status_code,
                    attempts=response.attempts,
                    code=code or "feeds_unknown",
                )
            ids += [
                str(feed["feedId"])
                for feed in feeds
                if isinstance(feed, dict) and feed.get("feedId") and feed.get("feedType") in
                (None, FEED_TYPE)
            ]  # fmt: skip
            token = data.get("nextToken")
            if not isinstance(token, str) or not token:
                return ids
            params = {"nextToken": token}  # "include this token as the only parameter"
        raise ChannelUnavailable(
            TOO_MANY_FEEDS(), http_status=200, attempts=1, code="feeds_unknown"
        )

    def _upload(self, batch) -> str | BatchSubmission:
        """Create the feed document and upload the batch's messages: its id, or a refusal."""
        content = self.feed_document(batch)
        response = self.client.request(
            "POST",
            f"{self.api_url}/{FEEDS_API}/documents",
            spend={"feed_documents": 1, "integration": 1},
            headers={"Accept": "application/json"},
            json={"contentType": CONTENT_TYPE},
        )
        data = json_or_empty(response)
        if response.status_code != 201 or not isinstance(data, dict) or not data.get("url"):
            code, message = amazon_errors(response)
            return BatchSubmission(
                registered=False, http_status=response.status_code, code=code, message=message
            )
        try:
            check_url(data["url"])
        except UnsafeURL as exc:
            raise ChannelUnavailable(
                UPLOAD_ADDRESS_REFUSED(error=exc), http_status=201, attempts=1
            ) from None
        uploaded = self.client.request(
            "PUT",
            data["url"],
            authenticated=False,
            json_answer=False,
            headers={"Content-Type": CONTENT_TYPE},
            data=content,
        )
        if uploaded.status_code != 200:
            # The document store refused (an expired URL, a size): try again with a new one.
            raise ChannelUnavailable(
                FEED_NOT_STORED(status=uploaded.status_code, reason=uploaded.reason),
                http_status=uploaded.status_code,
                attempts=uploaded.attempts,
                code="upload_refused",
            )
        # Amazon has the document now: the batch's later writes need not carry its text.
        self.store.note(batch, feed_document_id=str(data["feedDocumentId"]), payload=None)
        return str(data["feedDocumentId"])

    # --- reading --------------------------------------------------------------------------

    def read_batch(self, batch) -> dict[int, OfferResult] | None:
        feed_id = batch.changes["feed_id"]
        response = self.client.request(
            "GET",
            f"{self.api_url}/{FEEDS_API}/feeds/{quote(str(feed_id), safe='')}",
            spend={"feed_reads": 1, "integration": 1},
            headers={"Accept": "application/json"},
        )
        feed = json_or_empty(response)
        status = feed.get("processingStatus") if isinstance(feed, dict) else None
        if response.status_code == 404:
            __, message = amazon_errors(response)
            return self._all_failed(
                batch, "feed_not_found", FEED_NOT_KNOWN(feed=feed_id, message=message)
            )
        if response.status_code != 200 or status in (None, "IN_QUEUE", "IN_PROGRESS"):
            return None  # not done (or no readable answer): look again later
        report = None
        if feed.get("resultFeedDocumentId"):
            try:
                report = self._report(str(feed["resultFeedDocumentId"]), len(batch.offers))
            except ChannelUnavailable as exc:  # larger than xSale reads: no use asking again
                return self._all_failed(batch, exc.code, str(exc))
        if status == "DONE":
            if report is None:
                return None  # the report could not be read yet: look again later
            return self._results(batch, report)
        reason = "; ".join(
            str(i.get("message") or "")
            for i in (report or {}).get("issues") or []
            if isinstance(i, dict)
        )
        if status == "CANCELLED":
            message = FEED_CANCELLED(feed=feed_id)
            return self._all_failed(batch, "feed_cancelled", message)
        message = FEED_ABORTED(feed=feed_id, reason=f": {reason}" if reason else "")
        return self._all_failed(batch, "feed_fatal", message)

    def _report(self, document_id: str, messages: int) -> dict | None:
        """The processing report (streamed to a file under CHANNEL_MAX_DOCUMENT_BYTES, then
        read from it item by item within the bounds of bounded.py: never whole in memory);
        None when it could not be read now. Raises ChannelUnavailable OVERSIZED.

        Of its issues only those of the feed's `messages` (and the feed's own) are kept, at
        most ISSUES_KEPT of each: a report of millions of issues costs time, not memory."""
        what = _("Amazon's processing report of the feed")
        try:
            file = download(
                self.client,
                f"{self.api_url}/{FEEDS_API}/documents/{quote(document_id, safe='')}",
                spend={"feed_results": 1, "integration": 1},
                what=what,
            )
        except ChannelUnavailable as exc:
            if exc.code == OVERSIZED:
                raise
            return None
        kept: list[dict] = []
        per_message: dict = {}

        def take(issue) -> None:
            if not isinstance(issue, dict):
                return
            message_id = issue.get("messageId")
            if isinstance(message_id, int) and not isinstance(message_id, bool):
                if not 1 <= message_id <= messages:
                    return  # not a message of this feed
            else:
                message_id = None
            if per_message.get(message_id, 0) < ISSUES_KEPT:
                per_message[message_id] = per_message.get(message_id, 0) + 1
                kept.append(issue)

        with file:
            try:
                report = json_document(
                    file, encoding=text_encoding(file), what=what, array="issues", take=take
                )
            except BoundExceeded as exc:
                raise refused(exc) from None
            except ValueError:
                return None
        report["issues"] = kept
        return report

    @staticmethod
    def _all_failed(batch, code: str, message: str) -> dict[int, OfferResult]:
        return {
            offer_id: OfferResult(offer_id, ok=False, code=code, message=message)
            for offer_id in batch.offers
        }

    def _results(self, batch, report: dict) -> dict[int, OfferResult]:
        issues = [i for i in report.get("issues") or [] if isinstance(i, dict)]
        by_message: dict[int, list[dict]] = {}
        feed_level = []
        for issue in issues:
            message_id = issue.get("messageId")
            if isinstance(message_id, int) and not isinstance(message_id, bool):
                by_message.setdefault(message_id, []).append(issue)
            elif issue.get("severity") == "ERROR":
                feed_level.append(issue)
        summary = report.get("summary") if isinstance(report.get("summary"), dict) else {}
        nothing_accepted = summary.get("messagesAccepted") == 0
        processed = summary.get("messagesProcessed")
        if batch.changes.get("feed_found") and processed != len(batch.offers):
            message = FEED_FOUND_IS_ANOTHER(
                feed=batch.changes.get("feed_id"), processed=processed, sent=len(batch.offers)
            )
            return self._all_failed(batch, "feed_unknown", message)
        photos = batch.changes.get("photos_sent") or {}
        results = {}
        for message_id, offer_id in enumerate(batch.offers, start=1):
            own = by_message.get(message_id, [])
            errors = errors_of(own)
            if not errors and feed_level and nothing_accepted:
                errors = feed_level
            if errors:
                code, message = issue_text(errors)
                results[offer_id] = OfferResult(
                    offer_id,
                    ok=False,
                    code=code or "feed_error",
                    message=message or MESSAGE_REFUSED(),
                )
                continue
            __, warning = issue_text(own)
            files = photos.get(str(offer_id))
            results[offer_id] = OfferResult(
                offer_id,
                ok=True,
                message=warning,
                photos_sent=files is not None,
                photo_files=files or 0,
            )
        return results

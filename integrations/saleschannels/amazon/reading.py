"""Reading Amazon back (a drift check, engine/drift_check.py): prices and quantities from the
GET_MERCHANT_LISTINGS_ALL_DATA report (created once, kept as a job through the adapter's
store, polled — the check pauses, holding no worker, while Amazon makes it — then downloaded
to a temporary file and read page by page by column name: documents.py); name and
description per SKU with `GET /listings/2021-08-01/items/…` at its 5/s."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import partial
from urllib.parse import quote

from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.saleschannels.amazon.documents import TabDocument, download
from integrations.saleschannels.amazon.mapping import Marketplace, amazon_errors
from integrations.shopconnect.base import ListingReads, ListingsPage, OfferToSend
from integrations.shopconnect.bounded import read_amount, read_count
from integrations.shopconnect.common import json_or_empty, snapshot_with_photo_urls
from integrations.shopconnect.errors import ChannelUnavailable, Held
from integrations.wording import Reason

ALL_LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"
REPORT_PAGE = 10_000  # report rows per page of a drift check's listings
# A listings report not read to its end is used again by the next check only this young.
REPORT_REUSE_SECONDS = 15 * 60
# A report not ready yet is looked at again in place for this long, then the check pauses.
REPORT_WAIT_IN_PLACE = 4.0
REPORT_NOT_MADE = Reason("Amazon did not make the listings report: %(message)s")
REPORT_UNKNOWN = Reason("Amazon did not say how the listings report is doing: %(message)s")
REPORT_FATAL = Reason(
    "Amazon could not make the listings report (FATAL); the check can be run again."
)
# What a send in doubt reads of a listings item (read_current).
CURRENT_DATA = "summaries,attributes,offers,fulfillmentAvailability"
REPORT_NO_SKU = Reason("Amazon's listings report could not be read: it has no seller-sku column.")


def listing_fields(row: dict) -> dict | None:
    """A GET_MERCHANT_LISTINGS_ALL_DATA row ({column: value}, read by column name: extra or
    reordered columns are fine) as {"external_id", "name", "price", "stock"}; None without
    a seller SKU."""

    def cell(name):
        return (row.get(name) or "").strip()

    sku = cell("seller-sku")
    if not sku:
        return None
    fields: dict = {"external_id": sku}
    if cell("item-name"):
        fields["name"] = cell("item-name")
    read_amount(fields, "price", cell("price"))
    read_count(fields, "stock", cell("quantity"))
    return fields


def item_fields(item: dict, place: Marketplace) -> dict:
    """Name and description of a Listings Items `Item` (its attributes for our marketplace)."""
    out = {}
    attrs = item.get("attributes") if isinstance(item.get("attributes"), dict) else {}
    for key, name in (("name", "item_name"), ("description", "product_description")):
        for entry in attrs.get(name) or []:
            if isinstance(entry, dict) and entry.get("marketplace_id") in (
                None,
                place.marketplace_id,
            ):
                if isinstance(entry.get("value"), str):
                    out[key] = entry["value"]
                break
    if "name" not in out:
        for summary in item.get("summaries") or []:
            if isinstance(summary, dict) and isinstance(summary.get("itemName"), str):
                out["name"] = summary["itemName"]
                break
    return out


def current_fields(item: dict, place: Marketplace) -> dict:
    """A listings item read with its offers and fulfillment availability: name and
    description (item_fields), the price of our marketplace's offer and the DEFAULT quantity."""
    out = item_fields(item, place)
    for offer in item.get("offers") or []:
        if isinstance(offer, dict) and offer.get("marketplaceId") in (None, place.marketplace_id):
            price = offer.get("price") if isinstance(offer.get("price"), dict) else {}
            read_amount(out, "price", price.get("amount"))
            break
    for entry in item.get("fulfillmentAvailability") or []:
        if isinstance(entry, dict) and entry.get("fulfillmentChannelCode") == "DEFAULT":
            quantity = entry.get("quantity")
            if isinstance(quantity, int) and not isinstance(quantity, bool):
                read_count(out, "stock", quantity)
            break
    return out


class AmazonReading:
    """The drift-check hooks of the adapter contract (base.ChannelAdapter), for Amazon."""

    def expected_listing(self, item: OfferToSend) -> dict:
        snap = snapshot_with_photo_urls(item)
        expected = {
            "name": snap.name,
            "price": snap.price_text,
            "stock": snap.stock,
            "external_id": self.listing_key(snap),
        }
        if snap.description.strip():
            expected["description"] = snap.description
        return expected

    def _begin_reads(self, deadline) -> None:
        self.check_credentials()
        self.client.start_chunk(deadline)

    def read_listings(self, offset: int, *, deadline: float | None = None) -> ListingsPage:
        """A page of the GET_MERCHANT_LISTINGS_ALL_DATA report (REPORT_PAGE lines from line
        `offset`, in the document's order). The first call asks Amazon to make the report and
        keeps its id (a job, through the store); until the report is done the check pauses
        (Held) and asks again later — from whichever task gets the run. The document is
        downloaded once per process to a temporary file (amazon_documents.py) and read page
        by page."""
        self._begin_reads(deadline)
        try:
            job = self.store.job(ALL_LISTINGS_REPORT)
            young = timezone.now() - timedelta(seconds=REPORT_REUSE_SECONDS)
            if job is None or (offset == 0 and (job.finished or job.created_at < young)):
                job = self._create_report()
            document = self._report_document(job, deadline)
        finally:
            self.store_new_credentials()
        listings, end, last, total = {}, offset, True, 0
        if document is not None:  # None: CANCELLED, "no data to return"
            rows, end, last = document.rows(offset, REPORT_PAGE)
            total = document.total
            for row in rows:
                fields = listing_fields(row)
                if fields is not None:
                    listings[fields["external_id"]] = fields
        if last:
            self.store.finish_job(ALL_LISTINGS_REPORT)
            self._forget_reports()
        return ListingsPage(listings=listings, total=total, next_offset=None if last else end)

    def _forget_reports(self, keep: str | None = None) -> dict:
        """The process's downloaded reports (one: the latest), others closed and dropped."""
        cache = self.client.kept.setdefault("amazon_reports", {})
        for job_id in [k for k in cache if k != keep]:
            document = cache.pop(job_id)
            if document is not None:
                document.close()
        return cache

    def _create_report(self):
        response = self.client.request(
            "POST",
            f"{self.api_url}/reports/2021-06-30/reports",
            spend={"reports": 1, "integration": 1},
            headers={"Accept": "application/json"},
            json={"reportType": ALL_LISTINGS_REPORT, "marketplaceIds": [self.place.marketplace_id]},
        )
        report_id = json_or_empty(response).get("reportId") if response.status_code == 202 else None
        if not isinstance(report_id, str) or not report_id:
            code, message = amazon_errors(response)
            raise ChannelUnavailable(
                REPORT_NOT_MADE(message=message),
                http_status=response.status_code,
                attempts=response.attempts,
                code=code or "report_refused",
            )
        return self.store.start_job(ALL_LISTINGS_REPORT, report_id)

    def _report_document(self, job, deadline) -> TabDocument | None:
        cache = self._forget_reports(keep=job.job_id)
        if job.job_id in cache:
            return cache[job.job_id]
        waited_until = time.monotonic() + REPORT_WAIT_IN_PLACE
        while True:
            response = self.client.request(
                "GET",
                f"{self.api_url}/reports/2021-06-30/reports/{quote(job.job_id, safe='')}",
                spend={"report_reads": 1, "integration": 1},
                headers={"Accept": "application/json"},
            )
            report = json_or_empty(response)
            status = report.get("processingStatus") if isinstance(report, dict) else None
            if response.status_code != 200 or not status:
                code, message = amazon_errors(response)
                raise ChannelUnavailable(
                    REPORT_UNKNOWN(message=message),
                    http_status=response.status_code,
                    attempts=response.attempts,
                    code=code or "report_unknown",
                )
            if status in ("DONE", "CANCELLED", "FATAL"):
                break
            left = min(waited_until, deadline or float("inf")) - time.monotonic()
            if left < 1.0:
                age = (timezone.now() - job.created_at).total_seconds()
                later = time.time() + min(max(age / 2, 2.0), 60.0)
                reason = _(
                    "Amazon is preparing the listings report (status %(status)s); the check "
                    "reads it when it is done, holding no worker meanwhile."
                ) % {"status": status}
                raise Held(later, reason=reason)
            time.sleep(1.0)
        if status == "CANCELLED":  # "no data to return": the seller has no listing there
            cache[job.job_id] = None
            return None
        if status == "FATAL" or not report.get("reportDocumentId"):
            self.store.drop_job(ALL_LISTINGS_REPORT)  # the next check asks for a new report
            raise ChannelUnavailable(
                REPORT_FATAL(),
                http_status=200,
                attempts=1,
                code="report_fatal",
            )
        file = download(
            self.client,
            f"{self.api_url}/reports/2021-06-30/documents/"
            f"{quote(str(report['reportDocumentId']), safe='')}",
            spend={"report_documents": 1, "integration": 1},
            what=_("Amazon's listings report"),
        )
        try:
            document = TabDocument(file)
        except BaseException:
            file.close()
            raise
        if "seller-sku" not in document.columns:
            document.close()
            raise ChannelUnavailable(
                REPORT_NO_SKU(),
                http_status=200,
                attempts=1,
                code="unexpected_answer",
            )
        cache[job.job_id] = document
        return document

    def read_full(self, listing_ids: list[str], *, deadline: float | None = None) -> ListingReads:
        return self._read_listings(listing_ids, deadline, "summaries,attributes", item_fields)

    def read_current(
        self, listing_ids: list[str], *, deadline: float | None = None
    ) -> ListingReads:
        """A send in doubt (everyday sync): each SKU's listings item with its offers and
        fulfillment availability (price and quantity), at the same 5/s."""
        return self._read_listings(listing_ids, deadline, CURRENT_DATA, current_fields)

    def _read_listings(self, listing_ids, deadline, included: str, fields) -> ListingReads:
        """Each SKU's listings item with `included` data, read into `fields`."""
        if not listing_ids:
            return ListingReads()
        self._begin_reads(deadline)
        place = self.place
        return self.read_each(
            listing_ids,
            partial(self._read_one, place=place, included=included),
            partial(fields, place=place),
            amazon_errors,
        )

    def _read_one(self, sku: str, place: Marketplace, included: str = "summaries,attributes"):
        return self.client.request(
            "GET",
            self.listing_url(sku),
            spend={"listings_get": 1, "integration": 1},
            headers={"Accept": "application/json"},
            params={"marketplaceIds": place.marketplace_id, "includedData": included},
        )

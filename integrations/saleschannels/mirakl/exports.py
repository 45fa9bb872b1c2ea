"""Reading Mirakl's offers back for a drift check: the asynchronous offer export.

OF52 `POST /api/offers/export/async` asks for the export (→ `tracking_id`), OF53 says when it
is done (→ the chunk URLs), OF54 is a GET of each chunk (`;`-separated CSV). A **full** export
(at most once a day; with `include_inactive_offers`, or every offer with quantity 0 would look
missing) gives every offer; a **differential** one (`last_request_date`, at most once a minute)
the offers changed since, deleted ones marked `deleted`. So the adapter keeps the shop's offers
as of its last export — a file per integration, under MIRAKL_WORK_DIR (default the system's
temporary directory) — and a check asks a differential export since then, merges it and reads
the result page by page in SKU order; a full export is asked when there is no copy, or the
copy's full export is a day old.

The export a check waits for is kept as a job through the adapter's store (purpose
EXPORT_JOB: its kind, its tracking id and the moment it was asked), so that whichever task
resumes the paused check finds it. Limitation: the copy lives on one machine's disk; a check
run on another machine within a day of the last full export waits until a full export is
allowed again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.shopconnect.base import ListingReads, ListingsPage, OfferToSend
from integrations.shopconnect.common import json_or_empty, snapshot
from integrations.shopconnect.errors import ChannelUnavailable, Held
from integrations.wording import Reason
from xsale.urlsafety import UnsafeURL, check_url

EXPORT_JOB = "mirakl:offer_export"
FULL, DIFFERENTIAL = "full", "differential"
LISTINGS_PAGE = 10_000
# A chunk is read whole (under CHANNEL_MAX_ANSWER_BYTES, 8 MiB by default): 2,000 offers with
# descriptions of a few KiB, and at most 4 MB (OF52 `megabytes_per_chunk`) whatever they hold.
ITEMS_PER_CHUNK = 2_000
MEGABYTES_PER_CHUNK = 4
FULL_EVERY = timedelta(days=1)
# An export is looked at again this long after Mirakl says PENDING (OF53: every 10 s at most).
LOOK_AGAIN_SECONDS = 10.0
# Our clock against Mirakl's: a differential export starts this much before the last one.
CLOCK_SKEW = timedelta(minutes=2)

EXPORT_NOT_MADE = Reason("Mirakl did not start the offer export: %(message)s")
EXPORT_FAILED = Reason("Mirakl's offer export failed: %(message)s")
EXPORT_UNKNOWN = Reason("Mirakl does not know the offer export %(id)s (%(status)s).")
CHUNK_REFUSED = Reason("Mirakl's export file could not be read (%(status)s %(reason)s).")
CHUNK_ADDRESS_REFUSED = Reason("Mirakl's export file address was refused: %(error)s")
COPY_LOST = Reason(
    "xSale's copy of the shop's offers from Mirakl's last export is not on this machine; the "
    "check starts again from a full export."
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def price_text(value) -> str:
    try:
        return f"{Decimal(str(value).strip().replace(',', '.')):.2f}"
    except (InvalidOperation, ValueError):
        return str(value or "")


def listing_of(row: dict) -> dict | None:
    """A row of the export as a drift check compares it, None for a row without a SKU."""
    sku = (row.get("shop-sku") or row.get("shop_sku") or "").strip()
    if not sku:
        return None
    quantity = (row.get("quantity") or "").strip()
    return {
        "external_id": sku,
        "price": price_text(row.get("price")) if (row.get("price") or "").strip() else "",
        "stock": int(quantity) if quantity.lstrip("-").isdigit() else None,
        "description": row.get("description") or "",
    }


class MiraklExports:
    """The drift check's hooks of the adapter contract (base.ChannelAdapter), for Mirakl."""

    def expected_listing(self, item: OfferToSend) -> dict:
        snap = snapshot(item, related=False)  # neither photos nor parameters are compared
        return {
            "external_id": self.listing_key(snap),
            "price": snap.price_text,
            "stock": snap.stock,
            "description": snap.description,
        }

    # --- the copy of the shop's offers ----------------------------------------------------

    def _copy_path(self) -> Path:
        base = Path(getattr(settings, "MIRAKL_WORK_DIR", "") or tempfile.gettempdir())
        place = hashlib.sha256(
            f"{self.integration.api_url}|{self.integration.setting('shop_id')}".encode()
        ).hexdigest()[:16]
        return base / "xsale-mirakl" / f"offers-{self.integration.pk}-{place}.json"

    def _read_copy(self) -> dict | None:
        cache = self.client.kept.setdefault("mirakl_copy", {})
        path = self._copy_path()
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return None
        if cache.get("stamp") != stamp:
            try:
                with path.open(encoding="utf-8") as fh:
                    cache.update(stamp=stamp, copy=json.load(fh))
            except (OSError, ValueError):
                return None
        return cache["copy"]

    def _write_copy(self, copy: dict) -> None:
        path = self._copy_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(copy, fh, ensure_ascii=False)
        os.replace(temporary, path)

    # --- read_listings --------------------------------------------------------------------

    def read_listings(self, offset: int, *, deadline: float | None = None) -> ListingsPage:
        """A page of the shop's offers as Mirakl's latest export shows them (the module's
        docstring). Raises Held while Mirakl makes the export."""
        self.check_credentials()
        self.client.start_chunk(deadline)
        job = self.store.job(EXPORT_JOB)
        if offset == 0 and (job is None or job.finished):
            job = self._ask_export()
        if not job.finished:
            self._take_export(job)
        copy = self._read_copy()
        if copy is None:  # read on another machine, or removed: never compare with nothing
            self.store.drop_job(EXPORT_JOB)
            raise ChannelUnavailable(COPY_LOST(), http_status=None, attempts=1, code="copy_lost")
        skus = sorted(copy["offers"])
        page = skus[offset : offset + LISTINGS_PAGE]
        end = offset + len(page)
        listings = {sku: {"external_id": sku, **copy["offers"][sku]} for sku in page}
        return ListingsPage(
            listings=listings, total=len(skus), next_offset=end if end < len(skus) else None
        )

    def _ask_export(self):
        copy = self._read_copy()
        now = timezone.now()
        full_at = datetime.fromisoformat(copy["full_at"]) if copy else None
        kind = FULL if full_at is None or now - full_at >= FULL_EVERY else DIFFERENTIAL
        body = {
            "export_type": "text/csv",
            "items_per_chunk": ITEMS_PER_CHUNK,
            "megabytes_per_chunk": MEGABYTES_PER_CHUNK,
        }
        if kind == FULL:
            body["include_inactive_offers"] = True
        else:
            body["last_request_date"] = _iso(datetime.fromisoformat(copy["as_of"]) - CLOCK_SKEW)
        channel = self.integration.setting("channel_code")
        if channel:
            body["channel_codes"] = [channel]
        response = self.client.request(
            "POST",
            f"{self.api}/offers/export/async",
            spend={f"of52_{kind}": 1, "integration": 1},
            headers={"Accept": "application/json"},
            params=self.shop_params(),
            json=body,
        )
        data = json_or_empty(response)
        tracking = data.get("tracking_id") if isinstance(data, dict) else None
        if response.status_code not in (200, 201) or not tracking:
            raise ChannelUnavailable(
                EXPORT_NOT_MADE(message=self.error_message(response)),
                http_status=response.status_code,
                attempts=response.attempts,
                code="export_refused",
            )
        return self.store.start_job(EXPORT_JOB, f"{kind}|{str(tracking)[:120]}|{now.isoformat()}")

    def _take_export(self, job) -> None:
        """Wait for the export (Held while PENDING), then merge its chunks into the copy."""
        kind, tracking, asked = job.job_id.split("|", 2)
        response = self.client.request(
            "GET",
            f"{self.api}/offers/export/async/status/{quote(tracking, safe='')}",
            spend={"of53": 1, "integration": 1},
            headers={"Accept": "application/json"},
            params=self.shop_params(),
        )
        data = json_or_empty(response)
        status = data.get("status") if isinstance(data, dict) else None
        if response.status_code == 404 or status == "FAILED":
            self.store.drop_job(EXPORT_JOB)  # the next look asks for a new export
            error = data.get("error") if isinstance(data, dict) else None
            detail = error.get("detail") if isinstance(error, dict) else None
            message = (
                EXPORT_FAILED(message=str(detail or status)[:500])
                if status == "FAILED"
                else EXPORT_UNKNOWN(id=tracking, status=response.status_code)
            )
            raise ChannelUnavailable(
                message, http_status=response.status_code, attempts=1, code="export_failed"
            )
        if response.status_code != 200 or status != "COMPLETED":
            reason = _(
                "Mirakl is preparing the offer export (status %(status)s); the check reads it "
                "when it is done, holding no worker meanwhile."
            ) % {"status": status or response.status_code}
            raise Held(time.time() + LOOK_AGAIN_SECONDS, reason=reason)
        urls = data.get("urls") if isinstance(data.get("urls"), list) else []
        previous = self._read_copy()
        if kind == DIFFERENTIAL and previous is None:  # the copy it updates is not here
            self.store.drop_job(EXPORT_JOB)
            raise ChannelUnavailable(COPY_LOST(), http_status=None, attempts=1, code="copy_lost")
        offers = {} if kind == FULL or previous is None else dict(previous["offers"])
        for url in urls:
            for row in self._chunk_rows(str(url)):
                if str(row.get("deleted", "")).strip().lower() == "true":
                    offers.pop((row.get("shop-sku") or "").strip(), None)
                    continue
                listing = listing_of(row)
                if listing is not None:
                    sku = listing.pop("external_id")
                    offers[sku] = listing
        full_at = asked if kind == FULL else previous["full_at"]
        self._write_copy({"as_of": asked, "full_at": full_at, "offers": offers})
        self.store.finish_job(EXPORT_JOB)

    def _chunk_rows(self, url: str):
        try:
            check_url(url)
        except UnsafeURL as exc:
            raise ChannelUnavailable(
                CHUNK_ADDRESS_REFUSED(error=exc), http_status=200, attempts=1, code="unsafe_url"
            ) from None
        response = self.client.request(
            "GET",
            url,
            spend={"integration": 1},
            authenticated=False,
            json_answer=False,
            headers={"Accept": "text/csv"},
        )
        if response.status_code != 200:
            raise ChannelUnavailable(
                CHUNK_REFUSED(status=response.status_code, reason=response.reason),
                http_status=response.status_code,
                attempts=response.attempts,
                code="export_chunk",
            )
        text = response.content.decode("utf-8-sig", errors="replace")
        return csv.DictReader(io.StringIO(text), delimiter=";")

    def read_full(self, listing_ids: list[str], *, deadline: float | None = None) -> ListingReads:
        return ListingReads()  # the export holds every field compared

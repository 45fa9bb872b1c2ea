"""Mirakl's imports through the engine's asynchronous batches (engine/batches.py).

Every run goes by imports (MiraklAdapter.goes_in_batches): a chunk's offers become, per
operation, one file — a batch the engine writes before any request:

- `mirakl:offers` — OF01 `POST /api/offers/imports`, a `;`-separated CSV. An "all" run sends
  `sku;product-id;product-id-type;description;price;quantity;state` in NORMAL mode (inserts or
  updates; a column not in the file is left alone, so the offer's discount, lead time, internal
  description … stay); a "content" run `sku;product-id;product-id-type;description`; a "prices
  and stock" run `sku;price;quantity` in PARTIAL_UPDATE mode (only non-empty cells change; an
  unknown offer is an error line). Never REPLACE (it deletes every offer not in the file), never
  OF24 (it resets every field not sent), never PRI01 (it deletes every price not sent). Status:
  OF02; error lines: OF03.
- `mirakl:products` — P41 `POST /api/products/imports`, the product file (`sku`, `title`,
  `category`, `description`, `ean`, one column per parameter, and `image-1` … only in the
  import of the offers whose photos go: a chunk sends at most two product imports, one with
  images and one without). Status: P42 (`import_status`); format errors P47, the operator's
  rejections P44.

The files are made when the batch is planned, from the offers as the chunk read them: the
batch carries their rows (`changes["payload"]`, until Mirakl registers the import; the engine
then drops them), never the offers as they are later; the adapter reads no model (what it keeps
goes through its store, engine/store.py).

Mirakl takes no idempotency key. The batch is marked "sent, answer not kept" before the request
(`store.submitting`), the request is never retried blindly, and the import's id goes back to the
engine with the registration (`BatchSubmission.keep`). A batch found "sent, answer not kept"
after a crash or a lost answer is looked up (`find_submitted`) in the shop's imports list (OF04
for offers, P51 for products): the one import created since then, of the same kind and size,
that no other batch of the integration knows is ours (`store.refs_known`). None, once the
request can no longer be in flight: Mirakl never registered it, and it is sent now. Several:
which one is ours cannot be told — the batch is refused with that reason, never sent twice.
An import's error reports, once read, are kept on the batch while it is read
(`store.note_reading`), so a later look does not read them again.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.saleschannels.mirakl.files import csv_file, offer_columns, parse_error_report
from integrations.shopconnect.base import BatchPlan, BatchSubmission, OfferResult, OfferToSend
from integrations.shopconnect.common import (
    failed,
    json_or_empty,
    snapshot,
    snapshot_with_photo_urls,
)
from integrations.shopconnect.errors import ChannelUnavailable, Held
from integrations.wording import Reason

OFFERS = "mirakl:offers"
PRODUCTS = "mirakl:products"
FIRST_LOOK_SECONDS = 2.0
# What a batch sends (its file's rows, as planned): kept until Mirakl registers the import.
PAYLOAD = "payload"
# Our clock against Mirakl's date_created, when a lost import is looked up.
CLOCK_SKEW_SECONDS = 120
# A request whose answer was lost may still be in flight this long (the client's read timeout
# and more): until then "not in the list" does not yet mean "never registered".
IN_FLIGHT_SECONDS = 90
LIST_PAGES = 5  # of 100 imports (Mirakl keeps 500 files per seller)
IMAGE_COLUMNS = 10
# The product file's own columns (the operator's format: Empik names its own; the sandbox's
# are sku, title, category). Parameters go as columns by their name.
PRODUCT_COLUMNS = ("sku", "title", "category", "description", "ean")
CATEGORY_PARAMETER = "category"
CSV_MEDIA_TYPE = "text/csv"
# For estimates: how long the operator takes to carry out one import (a deployment may set
# MIRAKL_IMPORT_PROCESSING_SECONDS from what its operator shows).
PROCESSING_SECONDS = 300

FINISHED_OFFER_IMPORT = ("COMPLETE", "FAILED")
FINISHED_PRODUCT_IMPORT = ("COMPLETE", "FAILED", "TRANSFORMATION_FAILED", "CANCELLED")

IMPORT_FAILED = Reason("Mirakl's import %(id)s ended %(status)s: %(reason)s")
IMPORT_CANNOT_TELL = Reason(
    "Mirakl may have registered this import, but its answer was lost and Mirakl's list of "
    "imports shows %(count)s imports xSale cannot tell apart from it (%(ids)s): it was not sent "
    "again, so that no change is made twice. Check these offers, or resync them."
)
IMPORTS_NOT_LISTED = Reason("Mirakl did not list the shop's imports (%(status)s).")
IMPORT_NOT_KNOWN = Reason("Mirakl does not know the import %(id)s (%(status)s).")
LINE_REFUSED = Reason("Mirakl refused the line.")
IMPORTS_ONLY = Reason(
    "Mirakl takes offers only by imports: this offer was sent without one, so nothing went."
)


class MiraklImports:
    """The asynchronous hooks of the adapter contract (base.ChannelAdapter), for Mirakl."""

    def goes_in_batches(self, offers: int, data_types: str) -> bool:
        return True  # Mirakl's offers and products go by imports only

    # --- planning -------------------------------------------------------------------------

    def plan_batches(self, items: list[OfferToSend], *, run_offers: int, batched: bool = False):
        if not items:
            return items, []
        snaps = {item.offer.pk: snapshot(item, related=False) for item in items}
        ready, refused = self.keyed(list(snaps.values()))
        refused_ids = {r.offer_id for r in refused}
        # Their results, with the other offer's id, for `send` (send_snapshots) to give.
        self.planned_refusals = {r.offer_id: r for r in refused}
        keys = {snap.offer_id: snap.listing for snap in ready}
        by_id = {item.offer.pk: item for item in items}
        first = items[0]
        what = {"send_content": first.send_content, "send_prices_stock": first.send_prices_stock}
        with_photos = [s for s in ready if s.send_photos and first.send_content]
        # Every batch of the chunk names the photos that go (the engine records an offer's
        # photos from the first batch that carries it; its product import must succeed too).
        photos = {str(s.offer_id): photo_files(by_id[s.offer_id]) for s in with_photos}
        ready_items = [(keys[s.offer_id], by_id[s.offer_id]) for s in ready]
        plans = [
            BatchPlan(
                operation=OFFERS,
                offer_ids=[s.offer_id for s in ready],
                changes={
                    **what,
                    "keys": [key for key, __ in ready_items],
                    "photos_sent": photos,
                    PAYLOAD: self.offers_file(ready_items, **what),
                },
            )
        ]
        if first.send_content:
            without = [s for s in ready if not s.send_photos]
            for group in (without, with_photos):
                if group:
                    images = group is with_photos
                    group_items = [(s.listing, by_id[s.offer_id]) for s in group]
                    plans.append(
                        BatchPlan(
                            operation=PRODUCTS,
                            offer_ids=[s.offer_id for s in group],
                            changes={
                                **what,
                                "keys": [s.listing for s in group],
                                "images": images,
                                "photos_sent": photos if images else {},
                                PAYLOAD: self.products_file(group_items, images=images),
                            },
                        )
                    )
        # Offers that name no listing, or a listing another offer of the chunk names, fail
        # through `send` with their reason.
        return [item for item in items if item.offer.pk in refused_ids], plans

    def send_snapshots(self, snapshots):
        """Every offer plan_batches keyed went by imports: what reaches here from a resync is
        the second offer of a listing another offer of the chunk names (the first went), and
        fails so. Anything else (a send that planned no import: everyday changes go by
        everyday.py's imports, never here) fails with that reason, no request made."""
        planned = getattr(self, "planned_refusals", {})
        return [
            planned.get(snap.offer_id)
            or failed(snap.offer_id, IMPORTS_ONLY(), code="imports_only", attempts=0)
            for snap in snapshots
        ]

    def estimate_seconds(self, offers: int, data_types: str) -> tuple[float, str] | None:
        chunk = max(1, self.integration.facts.batch_chunk_size)
        imports = math.ceil(max(offers, 1) / chunk)
        budgets = self.budgets()
        if data_types == "prices_stock":
            budget = budgets.get("of01")
            product_imports = 0
        else:
            budget = budgets.get("p41")
            product_imports = imports * (2 if data_types == "all" else 1)
        seconds = 0.0
        for limit in budget.limits if budget else ():
            count = product_imports or imports
            seconds = max(seconds, (math.ceil(count / limit.count) - 1) * limit.seconds)
        label = _("%(limit)s, then Mirakl's processing of the imports") % {
            "limit": budget.label if budget else ""
        }
        processing = getattr(settings, "MIRAKL_IMPORT_PROCESSING_SECONDS", PROCESSING_SECONDS)
        return seconds + processing * imports, label

    # --- the files --------------------------------------------------------------------------

    def offers_file(self, items, *, send_content: bool, send_prices_stock: bool) -> dict:
        """The OF01 file of a batch, as planned: its import mode, columns and rows (one per
        (listing key, offer) of `items`, in order)."""
        mode, columns = offer_columns(send_content, send_prices_stock)
        id_type = self.integration.setting("product_id_type") or "EAN"
        state = self.integration.setting("state_code") or "11"
        rows = []
        for key, item in items:
            offer = item.offer
            product_id = (offer.ean or "").strip() if id_type.upper() == "EAN" else offer.sku
            cells = {
                "sku": key,
                "product-id": product_id,
                "product-id-type": id_type,
                "description": offer.description or "",
                "price": f"{offer.price:.2f}",
                "quantity": str(max(int(offer.stock), 0)),
                "state": state,
            }
            rows.append([cells[c] for c in columns])
        return {"mode": mode, "header": columns, "rows": rows}

    def products_file(self, items, *, images: bool) -> dict:
        """The P41 file of a batch, as planned (the operator's product format): its columns
        and rows, one per (listing key, offer) of `items`, in order."""
        entries, names = [], []
        default_category = self.integration.setting("product_category")
        for key, item in items:
            offer = item.offer
            pairs = offer.parameter_pairs()
            parameters = {}
            for name, value in pairs:
                name = name.strip()
                if name and name.lower() not in PRODUCT_COLUMNS and name not in parameters:
                    parameters[name] = value
                    if name not in names:
                        names.append(name)
            category = next(
                (v for n, v in pairs if n.strip().lower() == CATEGORY_PARAMETER), default_category
            )
            row = {
                "sku": key,
                "title": offer.name,
                "category": category,
                "description": offer.description or "",
                "ean": (offer.ean or "").strip(),
                **parameters,
            }
            if images:
                photos = snapshot_with_photo_urls(item).photos[:IMAGE_COLUMNS]
                for n, photo in enumerate(photos, start=1):
                    row[f"image-{n}"] = photo.url
            entries.append(row)
        header = [*PRODUCT_COLUMNS, *names]
        if images:
            header += [f"image-{n}" for n in range(1, IMAGE_COLUMNS + 1)]
        return {"header": header, "rows": [[row.get(c, "") for c in header] for row in entries]}

    # --- submitting -------------------------------------------------------------------------

    def submit_batch(self, batch) -> BatchSubmission:
        payload = batch.changes[PAYLOAD]
        content = csv_file(payload["header"], payload["rows"])
        if batch.operation == OFFERS:
            url, spend = f"{self.api}/offers/imports", "of01"
            data = {"import_mode": payload["mode"]}
        else:
            url, spend, data = f"{self.api}/products/imports", "p41", {}
        # Kept before the request: whatever becomes of it, a retry knows it may exist.
        self.store.submitting(batch)
        try:
            response = self.client.request(
                "POST",
                url,
                spend={spend: 1, "integration": 1},
                headers={"Accept": "application/json"},
                params=self.shop_params(),
                files={"file": ("xsale.csv", content, CSV_MEDIA_TYPE)},
                data=data,
                retry=False,  # no idempotency key: never sent twice blindly
            )
        except Held:
            self.store.not_submitted(batch)  # held back before anything was sent
            raise
        answer = json_or_empty(response)
        import_id = answer.get("import_id") if isinstance(answer, dict) else None
        if response.status_code not in (200, 201) or import_id in (None, ""):
            return BatchSubmission(
                registered=False,
                http_status=response.status_code,
                code=f"http_{response.status_code}",
                message=self.error_message(response),
            )
        return BatchSubmission(
            registered=True, check_after=FIRST_LOOK_SECONDS, keep={"import_id": str(import_id)}
        )

    def find_submitted(self, batch, sent_at: datetime) -> BatchSubmission | None:
        """The import a request whose answer was lost made, if Mirakl made one (the module's
        docstring). Raises Held while the request may still be in flight."""
        since = sent_at - timedelta(seconds=CLOCK_SKEW_SECONDS)
        listed = self._imports_since(batch.operation, since)
        ids = [i for i, __ in listed]
        known = self.store.refs_known(batch, "import_id", ids, scope=None)
        lines = len(batch.changes.get("keys") or [])
        candidates = [i for i, n in listed if i not in known and n in (None, lines)]
        if len(candidates) == 1:
            found = {"import_id": candidates[0], "import_found": True}
            return BatchSubmission(registered=True, check_after=FIRST_LOOK_SECONDS, keep=found)
        if len(candidates) > 1:
            message = IMPORT_CANNOT_TELL(count=len(candidates), ids=", ".join(candidates[:10]))
            return BatchSubmission(registered=False, code="import_unknown", message=message)
        if timezone.now() - sent_at < timedelta(seconds=IN_FLIGHT_SECONDS):
            raise Held(
                time.time() + 10,
                reason=_("Looking for an import whose answer Mirakl did not give."),
            )
        return None  # never registered: send it now

    def _imports_since(self, operation: str, since: datetime) -> list[tuple[str, int | None]]:
        """[(import id, its lines when Mirakl says)] of the shop's imports created since: OF04
        (seek-paged) for offer imports, P51 (offset-paged) for product imports."""
        found: list[tuple[str, int | None]] = []
        if operation == OFFERS:
            params = {
                **self.shop_params(),
                "start_date": since.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "sort": "dateCreated,asc",
                "limit": 100,
            }
            for _page in range(LIST_PAGES):
                data, entries = self._listed("offers/imports", "of04", params, "data")
                for entry in entries:
                    done = entry.get("status") in FINISHED_OFFER_IMPORT
                    lines = entry.get("lines_read" if done else "lines_in_pending")
                    found.append((str(entry["import_id"]), _whole(lines)))
                token = data.get("next_page_token")
                if not isinstance(token, str) or not token:
                    break
                params = {**self.shop_params(), "page_token": token, "limit": 100}
            return found
        for page in range(LIST_PAGES):
            params = {
                **self.shop_params(),
                "last_request_date": since.astimezone(UTC).isoformat(),
                "max": 100,
                "offset": page * 100,
            }
            __, entries = self._listed(
                "products/imports", "p51", params, "product_import_trackings"
            )
            for entry in entries:
                done = entry.get("import_status") in FINISHED_PRODUCT_IMPORT
                lines = _whole(entry.get("transform_lines_read")) if done else None
                found.append((str(entry["import_id"]), lines))
            if len(entries) < 100:
                break
        return found

    def _listed(self, path: str, budget: str, params: dict, key: str) -> tuple[dict, list[dict]]:
        """One page of a list of imports: (the answer, its entries that name an import)."""
        response = self.client.request(
            "GET",
            f"{self.api}/{path}",
            spend={budget: 1, "integration": 1},
            headers={"Accept": "application/json"},
            params=params,
        )
        data = json_or_empty(response)
        entries = data.get(key) if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(entries, list):
            raise ChannelUnavailable(
                IMPORTS_NOT_LISTED(status=response.status_code),
                http_status=response.status_code,
                attempts=response.attempts,
                code="imports_unknown",
            )
        named = [e for e in entries if isinstance(e, dict) and e.get("import_id") not in (None, "")]
        return data, named

    # --- reading ----------------------------------------------------------------------------

    def read_batch(self, batch) -> dict[int, OfferResult] | None:
        import_id = batch.changes["import_id"]
        offers = batch.operation == OFFERS
        status_field = "status" if offers else "import_status"
        report = batch.changes.get("report")
        if report is None:
            path = "offers/imports" if offers else "products/imports"
            response = self.client.request(
                "GET",
                f"{self.api}/{path}/{quote(import_id, safe='')}",
                spend={"of02" if offers else "p42": 1, "integration": 1},
                headers={"Accept": "application/json"},
                params=self.shop_params(),
            )
            data = json_or_empty(response)
            if response.status_code == 404:
                message = IMPORT_NOT_KNOWN(id=import_id, status=response.status_code)
                return self._all_failed(batch, "import_not_found", message)
            status = data.get(status_field) if isinstance(data, dict) else None
            finished = FINISHED_OFFER_IMPORT if offers else FINISHED_PRODUCT_IMPORT
            if response.status_code != 200 or status not in finished:
                return None  # not done (or no readable answer): look again later
            if status != "COMPLETE":
                message = IMPORT_FAILED(
                    id=import_id,
                    status=status,
                    reason=str(data.get("reason_status") or "—")[:500],
                )
                return self._all_failed(batch, f"import_{str(status).lower()}"[:40], message)
            reports = []
            if offers and data.get("has_error_report"):
                reports.append(("error_report", "of03"))
            if not offers and data.get("has_transformation_error_report"):
                reports.append(("transformation_error_report", "p47"))
            if not offers and data.get("has_error_report"):
                reports.append(("error_report", "p44"))
            report = {"due": reports, "errors": {}}
            self.store.note_reading(batch, report=report)
        while report["due"]:
            name, budget = report["due"][0]
            path = "offers/imports" if offers else "products/imports"
            errors = self._error_report(
                f"{self.api}/{path}/{quote(import_id, safe='')}/{name}", budget, batch
            )
            if errors is None:
                return None  # not readable yet: look again later
            report = {"due": report["due"][1:], "errors": {**errors, **report["errors"]}}
            self.store.note_reading(batch, report=report)
        return self._results(batch, report["errors"])

    def _error_report(self, url: str, budget: str, batch) -> dict[str, list] | None:
        """{listing key: [code, message]} of the report's lines (Mirakl's words)."""
        response = self.client.request(
            "GET",
            url,
            spend={budget: 1, "integration": 1},
            headers={"Accept": "text/csv"},
            params=self.shop_params(),
            json_answer=False,
        )
        if response.status_code != 200:
            return None
        keys = batch.changes.get("keys") or []
        return parse_error_report(response.content, keys, budget.upper())

    @staticmethod
    def _all_failed(batch, code: str, message: str) -> dict[int, OfferResult]:
        return {
            offer_id: OfferResult(offer_id, ok=False, code=code, message=message)
            for offer_id in batch.offers
        }

    @staticmethod
    def _results(batch, errors: dict[str, list]) -> dict[int, OfferResult]:
        photos = batch.changes.get("photos_sent") or {}
        results = {}
        for offer_id, key in zip(batch.offers, batch.changes.get("keys") or [], strict=False):
            error = errors.get(key)
            if error is not None:
                results[offer_id] = OfferResult(
                    offer_id, ok=False, code=error[0], message=error[1] or LINE_REFUSED()
                )
                continue
            files = photos.get(str(offer_id))
            results[offer_id] = OfferResult(
                offer_id, ok=True, photos_sent=files is not None, photo_files=files or 0
            )
        return results


def photo_files(item: OfferToSend) -> int:
    """The image columns an offer's photos fill in a product file."""
    return min(len(item.offer.photo_list()), IMAGE_COLUMNS)


def _whole(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

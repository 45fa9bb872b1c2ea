"""Zalando (zDirect): content per offer as a product submission, prices and stocks in bulk.

Mapping (docs/channels/zalando.md; the submission's media shape is our documented choice
in sandbox/README.md because Zalando's is unconfirmed):
- Zalando addresses offers by EAN: an offer without a valid EAN (8–14 digits) fails without a
  request; two offers of one batch with the same EAN — the second fails (Zalando takes each
  (sales channel, EAN) once per request).
- Content: `POST /merchants/{merchant_id}/product-submissions`, the whole product every time —
  one model, one config, one simple, all keyed by our SKU; name and description on the model,
  parameters as config attributes (a repeated name becomes a list), the photos inline as base64
  in `media` (Zalando always gets photo binaries, docs/architecture.md, product rules).
- Prices: `POST …/prices`, up to 1,000 EANs per request, amount as a JSON number, and stocks:
  `POST …/stocks`, up to 1,000 items — both only for offers whose submission was accepted (a
  refused product has no listing to price). Per-item REJECTED results fail their offer with
  Zalando's code and description. A batch refused as a whole because of some items (a 400
  whose errors name `product_prices[i]` / `items[i]`) fails those items and is sent again
  without them, once.
- An offer is sent when its submission, price and stock were all accepted.
- Token: client credentials at `{api_url}/auth/token`, cached in the process until shortly
  before it expires; a 401 fetches a new one once. Tokens are not stored on the integration
  (its credentials hold no token for Zalando).

Budgets (channels.py, budgets.py), all counted per merchant in Zalando's fixed minute windows
(our sliding slots never exceed a fixed window either): submissions 25 req/s, prices 30
requests and 8,000 updates a minute, stocks 60 requests and 2,000 updates a minute, tokens
8/min; and the integration's own requests/min when it has one. Submissions bind: 1,500 offers
a minute.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import replace
from functools import partial
from urllib.parse import quote, urlsplit

from django.utils.translation import gettext as _

from integrations.shopconnect import connection
from integrations.shopconnect.auth import TokenAuth
from integrations.shopconnect.base import ChannelAuthError, ConnectionCheck, NoListing, OfferResult
from integrations.shopconnect.bounded import channel_seconds
from integrations.shopconnect.common import (
    HttpChannelAdapter,
    OfferSnapshot,
    failed,
    json_or_empty,
)
from integrations.shopconnect.errors import HOST_UNREACHABLE, ChannelUnavailable
from integrations.shopconnect.http import ChannelClient
from integrations.wording import Reason

BULK_MAX_ITEMS = 1_000
EAN = re.compile(r"^\d{8,14}$")
# Renew a cached token this long before Zalando says it expires.
TOKEN_MARGIN_SECONDS = 60

LOGIN_UNREACHABLE = Reason(
    "Zalando's login service (%(host)s) could not be reached, so no access token could be "
    "obtained. Check the API URL in the integration's settings."
)
LOGIN_DID_NOT_ANSWER = Reason(
    "Zalando's login service did not answer, so no access token could be obtained. Try the "
    "resync again later."
)
CREDENTIALS_REFUSED = Reason(
    "Zalando refused the client ID and secret. Check them in the integration's settings."
)
ANSWERED = Reason("Zalando answered %(status)s %(reason)s")
NOT_AN_EAN = Reason("Zalando identifies offers by EAN and “%(ean)s” is not a valid EAN.")
NO_EAN = Reason("Zalando identifies offers by EAN and it has no EAN.")
PHOTO_UNREADABLE = Reason("A photo of the offer could not be read from xSale's storage.")
PRODUCT = Reason("Product: %(message)s")
PRICE = Reason("Price: %(message)s")
STOCK = Reason("Stock: %(message)s")
NO_RESULT = Reason("Zalando gave no result for this EAN.")
REJECTED = Reason("rejected")


class ZalandoAuth(TokenAuth):
    def __init__(self, integration):
        super().__init__("Zalando")
        credentials = integration.credentials or {}
        self.token_url = f"{integration.api_url.rstrip('/')}/auth/token"
        self.client_id = credentials.get("client_id", "")
        self.client_secret = credentials.get("client_secret", "")
        self._expires_at = 0.0

    def _expired(self) -> bool:
        return time.monotonic() >= self._expires_at

    def fetch_token(self, client: ChannelClient) -> str:
        try:
            response = client.request(
                "POST",
                self.token_url,
                authenticated=False,
                spend={"tokens": 1},
                auth=(self.client_id, self.client_secret),
                headers={"Accept": "application/json"},
                data={"grant_type": "client_credentials", "scope": "access_token_only"},
            )
        except ChannelUnavailable as exc:
            if exc.code == HOST_UNREACHABLE:
                host = urlsplit(self.token_url).hostname or self.token_url
                raise ChannelAuthError(LOGIN_UNREACHABLE(host=host)) from exc
            raise ChannelAuthError(LOGIN_DID_NOT_ANSWER()) from exc
        data = json_or_empty(response)
        if (
            response.status_code != 200
            or not isinstance(data, dict)
            or not data.get("access_token")
        ):
            raise ChannelAuthError(CREDENTIALS_REFUSED())
        lifetime = channel_seconds(data.get("expires_in"), default=3600.0)
        self._expires_at = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, lifetime / 2)
        return data["access_token"]


def problem_message(response) -> tuple[str, str]:
    """(code, message) from Zalando's problem JSON."""
    data = json_or_empty(response)
    if not isinstance(data, dict) or not data:
        return "", ANSWERED(status=response.status_code, reason=response.reason)
    parts = [str(data.get("detail") or data.get("title") or "")]
    code = ""
    for error in data.get("body_errors") or []:
        if isinstance(error, dict):
            code = code or str(error.get("reason") or "")
            parts.append(f"{error.get('path', '')}: {error.get('message', '')}".strip(": "))
    return code or str(data.get("title") or ""), "; ".join(p for p in parts if p)


def config_attributes(parameters: list[tuple[str, str]]) -> dict:
    attributes: dict = {}
    for name, value in parameters:
        if name in attributes:
            previous = attributes[name]
            attributes[name] = (
                [*previous, value] if isinstance(previous, list) else [previous, value]
            )
        else:
            attributes[name] = value
    return attributes


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class ZalandoAdapter(HttpChannelAdapter):
    max_in_flight = 16
    required_credentials = ("client_id", "client_secret", "merchant_id", "sales_channel_id")
    changes_request_budgets = ("price_requests", "stock_requests")  # 30 and 60 a minute
    # No read API is documented for offers, prices or stocks (docs/channels/zalando.md): a drift
    # check
    # cannot read Zalando back (engine/drift_check.py says so to the seller).
    readable_fields = frozenset()

    def client_auth(self) -> dict:
        return {"auth": ZalandoAuth(self.integration)}

    @property
    def merchant_url(self) -> str:
        merchant_id = quote(str(self.integration.credentials["merchant_id"]), safe="")
        return f"{self.integration.api_url.rstrip('/')}/merchants/{merchant_id}"

    @property
    def sales_channel_id(self) -> str:
        return str(self.integration.credentials["sales_channel_id"])

    # --- "Testuj połączenie" (shopconnect/connection.py) ---------------------------------

    def connection_url_hint(self) -> str:
        return "https://api.merchants.zalando.com"

    def token_url(self) -> tuple[str, str, str]:
        return self.client.auth.token_url, "api_url", self.connection_url_hint()

    def credentials_refused(self):
        return connection.failed(
            connection.Problem.CREDENTIALS,
            _("Zalando refused the client ID and client secret."),
            _(
                "Copy the client ID and client secret of your application again from the "
                "zDirect Portal (Applications), save and test again. A sandbox application's "
                "secrets work only with api-sandbox.merchants.zalando.com."
            ),
        )

    def probe_connection(self, probe) -> ConnectionCheck:
        """A token (client credentials: the secrets are tried), then `GET /auth/me`, which
        names the merchants (`bpids`) the application may act for: the integration's
        merchant ID must be one of them."""
        probe.token(token_url=self.client.auth.token_url, field="api_url")
        response = probe.request(
            "GET",
            f"{self.integration.api_url.rstrip('/')}/auth/me",
            spend={"integration": 1},
            headers={"Accept": "application/json"},
        )
        me = json_or_empty(response)
        if response.status_code == 403:
            raise self.merchant_refused([])
        if response.status_code != 200 or not isinstance(me, dict):
            raise probe.unexpected(response)
        merchants = me.get("bpids")
        merchants = [str(m)[:80] for m in merchants] if isinstance(merchants, list) else []
        if str(self.integration.credentials["merchant_id"]) not in merchants:
            raise self.merchant_refused(merchants)
        return ConnectionCheck(
            ok=True,
            summary=_("Zalando accepted the credentials."),
            facts=[
                _("Merchant %(merchant)s: the application may act for it.")
                % {"merchant": self.integration.credentials["merchant_id"]}
            ],
        )

    def merchant_refused(self, merchants: list[str]):
        allowed = ", ".join(merchants[:10]) or _("none")
        return connection.failed(
            connection.Problem.ACCOUNT,
            _(
                "Zalando accepted the credentials, but the application may not act for merchant "
                "%(merchant)s (it may for: %(allowed)s)."
            )
            % {"merchant": self.integration.credentials["merchant_id"], "allowed": allowed},
            _(
                "Correct the merchant ID in the settings, or give the application access to "
                "this merchant in the zDirect Portal; then save and test again."
            ),
        )

    def bulk_size(self) -> int:
        # A batch larger than an updates budget's window could never be sent.
        counts = [
            limit.count
            for name in ("price_updates", "stock_updates")
            for limit in (self.budgets()[name].limits if name in self.budgets() else ())
        ]
        return min([BULK_MAX_ITEMS, *counts])

    def listing_key(self, offer) -> str:
        """Zalando addresses an offer by its EAN (8–14 digits), whatever its external ID."""
        if EAN.match(offer.ean) and offer.ean.isascii():
            return offer.ean
        if offer.ean:
            raise NoListing(NOT_AN_EAN(ean=offer.ean), "missing_ean")
        raise NoListing(NO_EAN(), "missing_ean")

    def send_snapshots(self, snapshots: list[OfferSnapshot]) -> list[OfferResult]:
        ready = snapshots
        content = [snap for snap in ready if snap.send_content]
        submitted = self.run_parallel(
            [([snap.offer_id], partial(self.submit_product, snap)) for snap in content]
        )
        # Prices and stocks go for an offer whose product was accepted, or that sends no
        # content (a prices-and-stock run: no submission at all).
        accepted_ids = {r.offer_id for r in submitted if r.ok}
        submitted += [
            OfferResult(snap.offer_id, ok=True, attempts=0)
            for snap in ready
            if not snap.send_content
        ]
        accepted = [
            snap
            for snap in ready
            if snap.send_prices_stock and (snap.offer_id in accepted_ids or not snap.send_content)
        ]
        bulk_jobs = []
        for batch in chunks(accepted, self.bulk_size()):
            ids = [snap.offer_id for snap in batch]
            bulk_jobs.append((ids, partial(self.send_prices, batch)))
            bulk_jobs.append((ids, partial(self.send_stocks, batch)))
        bulk = self.run_parallel(bulk_jobs)
        return merge_results(submitted, bulk)

    # --- worker-thread jobs -------------------------------------------------------------

    def submit_product(self, snap: OfferSnapshot) -> list[OfferResult]:
        config: dict = {
            "merchant_product_config_id": snap.sku,
            "product_config_attributes": config_attributes(snap.parameters),
        }
        if snap.send_photos:
            try:
                config["media"] = [
                    {
                        "media_sort_key": position,
                        "content_type": photo.content_type,
                        "content_base64": base64.b64encode(photo.read()).decode("ascii"),
                    }
                    for position, photo in enumerate(snap.photos, start=1)
                ]
            except OSError:
                return [
                    failed(
                        snap.offer_id,
                        PHOTO_UNREADABLE(),
                        code="photo_missing",
                        attempts=0,
                    )
                ]
        config["product_simples"] = [
            {
                "merchant_product_simple_id": snap.sku,
                "product_simple_attributes": {"ean": snap.ean},
            }
        ]
        body = {
            "product_model": {
                "merchant_product_model_id": snap.sku,
                "product_model_attributes": {"name": snap.name, "description": snap.description},
                "product_configs": [config],
            }
        }
        response = self.client.request(
            "POST",
            f"{self.merchant_url}/product-submissions",
            spend={"submissions": 1, "integration": 1},
            json=body,
        )
        if 200 <= response.status_code < 300:
            return [
                OfferResult(
                    snap.offer_id,
                    ok=True,
                    photos_sent=snap.send_photos and bool(snap.photos),
                    photo_files=len(snap.photos) if snap.send_photos else 0,
                    attempts=response.attempts,
                )
            ]
        code, message = problem_message(response)
        return [
            failed(
                snap.offer_id,
                PRODUCT(message=message),
                http_status=response.status_code,
                code=code,
                attempts=response.attempts,
            )
        ]

    def send_prices(self, batch: list[OfferSnapshot]) -> list[OfferResult]:
        def body(snaps):
            return {
                "product_prices": [
                    {
                        "ean": snap.ean,
                        "sales_channel_id": self.sales_channel_id,
                        "regular_price": {"amount": float(snap.price), "currency": snap.currency},
                    }
                    for snap in snaps
                ]
            }

        return self.send_bulk(batch, body, "prices", PRICE, item_key="product_price")

    def send_stocks(self, batch: list[OfferSnapshot]) -> list[OfferResult]:
        def body(snaps):
            return {
                "items": [
                    {"sales_channel_id": self.sales_channel_id, "ean": s.ean, "quantity": s.stock}
                    for s in snaps
                ]
            }

        return self.send_bulk(batch, body, "stocks", STOCK, item_key="item")

    def send_bulk(self, batch, body, group: str, what: Reason, *, item_key: str):
        """POST a price or stock batch; if Zalando refuses the whole batch because of some items
        (a 400 naming `…[i]` paths), those items fail and the rest is sent once more."""
        response = self.client.request(
            "POST",
            f"{self.merchant_url}/{group}",
            spend=bulk_spend(group, len(batch)),
            json=body(batch),
        )
        bad = refused_items(response, len(batch)) if response.status_code == 400 else {}
        if not bad or len(bad) == len(batch):
            return bulk_results(batch, response, what, item_key=item_key)
        failures = [
            failed(
                snap.offer_id,
                what(message=bad[i][1]),
                http_status=400,
                code=bad[i][0],
                attempts=response.attempts,
            )
            for i, snap in enumerate(batch)
            if i in bad
        ]
        rest = [snap for i, snap in enumerate(batch) if i not in bad]
        again = self.client.request(
            "POST",
            f"{self.merchant_url}/{group}",
            spend=bulk_spend(group, len(rest)),
            json=body(rest),
        )
        return failures + bulk_results(rest, again, what, item_key=item_key)


def bulk_spend(group: str, items: int) -> dict[str, int]:
    """A price or stock batch spends one request and one update per item."""
    kind = {"prices": "price", "stocks": "stock"}[group]
    return {f"{kind}_requests": 1, f"{kind}_updates": items, "integration": 1}


ITEM_PATH = re.compile(r"^(?:product_prices|items)\[(\d+)\]")


def refused_items(response, count: int) -> dict[int, tuple[str, str]]:
    """{item index: (reason, message)} when every body error of a 400 names an item."""
    data = json_or_empty(response)
    errors = data.get("body_errors") if isinstance(data, dict) else None
    bad: dict[int, tuple[str, str]] = {}
    for error in errors or []:
        match = ITEM_PATH.match(str(error.get("path", ""))) if isinstance(error, dict) else None
        if not match or int(match.group(1)) >= count:
            return {}
        index = int(match.group(1))
        bad.setdefault(index, (str(error.get("reason") or ""), str(error.get("message") or "")))
    return bad


def bulk_results(batch: list[OfferSnapshot], response, what: Reason, *, item_key: str):
    """Map a 207 multi-status answer back to offers by EAN; a whole-request error fails all."""
    status = response.status_code
    data = json_or_empty(response)
    results = data.get("results") if isinstance(data, dict) else None
    if not (200 <= status < 300) or not isinstance(results, list):
        code, message = problem_message(response)
        return [
            failed(
                snap.offer_id,
                what(message=message),
                http_status=status,
                code=code,
                attempts=response.attempts,
            )
            for snap in batch
        ]
    by_ean = {}
    for entry in results:
        if isinstance(entry, dict):
            item = entry.get(item_key) or {}
            by_ean[str(item.get("ean", ""))] = entry.get("result") or {}
    out = []
    for snap in batch:
        result = by_ean.get(snap.ean)
        if result is None:
            out.append(
                failed(
                    snap.offer_id,
                    what(message=NO_RESULT()),
                    http_status=status,
                    code="no_result",
                    attempts=response.attempts,
                )
            )
        elif result.get("status") == "ACCEPTED":
            out.append(OfferResult(snap.offer_id, ok=True, attempts=response.attempts))
        else:
            out.append(
                failed(
                    snap.offer_id,
                    what(message=result.get("description") or result.get("status") or REJECTED()),
                    http_status=status,
                    code=str(result.get("code") or result.get("status") or ""),
                    attempts=response.attempts,
                )
            )
    return out


def merge_results(submitted: list[OfferResult], bulk: list[OfferResult]) -> list[OfferResult]:
    """One result per offer: the submission's, unless its price or stock failed."""
    failures: dict[int, OfferResult] = {}
    attempts: dict[int, int] = {}
    for result in bulk:
        attempts[result.offer_id] = attempts.get(result.offer_id, 0) + result.attempts
        if not result.ok and result.offer_id not in failures:
            failures[result.offer_id] = result
    merged = []
    for result in submitted:
        total = result.attempts + attempts.get(result.offer_id, 0)
        failure = failures.get(result.offer_id)
        if result.ok and failure:
            result = replace(failure, photos_sent=False, photo_files=0)
        result.attempts = total
        merged.append(result)
    return merged

"""Allegro: each offer is one `PATCH /sale/product-offers/{offerId}`, its photos uploaded first.

Mapping (docs/channels/allegro.md, validated against allegro-openapi.yaml in the tests):
- `name`: Allegro takes at most 75 characters. A longer name is cut at a word boundary and the
  offer is sent anyway, with a warning in its result (a listing with a shortened title beats an
  outdated listing; the seller sees the warning in the sync log).
- `description`: one section with one TEXT item. Allegro accepts a small subset of HTML (p, h1,
  h2, ul, ol, li, b); our description is HTML already, so it goes as it is when it starts with a
  block element, otherwise wrapped in `<p>`. An empty description is left out: the listing
  keeps its own (Allegro refuses an empty TEXT item).
- `parameters`: `{"name": …, "values": [value, …]}` — xSale keeps no Allegro parameter ids,
  so parameters are sent by name (the schema allows it); repeated names become one parameter with
  several values.
- `sellingMode.price.amount` is a string with two decimals; `stock` `{"available", "unit": UNIT}`
  (0 ends an active listing — that is what stock 0 means); `external.id` is our SKU.
- Photos (always sent to Allegro, docs/architecture.md, product rules): each binary is uploaded to
  `{upload_url}/sale/images` and the returned `location`s become `images`, in photo order. An
  upload refused by Allegro fails the offer with Allegro's message (no half-updated gallery). An
  offer without photos sends no `images`: Allegro would refuse an empty gallery.
- 202: the edit is processed asynchronously; we poll the operation (`Location`, respecting
  `Retry-After`) until 303 (done). If it is still pending after MAX_OPERATION_POLLS, the offer
  counts as sent with a warning — Allegro accepted it and will apply it.
- 409 ("the previous edit of the offer is still being processed"): retried after 1, 2 and 3 s,
  because such an edit finishes within seconds; after that the 409 is the offer's failure.
- `external_id` must be Allegro's numeric offer id; anything else fails the offer without a
  request.
- 401: the access token is refreshed with the refresh token (`auth_url`, HTTP Basic client id and
  secret), both new tokens are stored on the integration, and the request is retried once.

Budgets (channels.py, budgets.py): every request to the API and the upload host spends the
application's 9,000/min (counted per client id, over every seller of the app); PATCHes also the
seller's edits (2,490/min and 74,700/h, counted per seller — who the token belongs to comes
from `GET /me` once per process, falling back to the integration when Allegro does not say);
and the integration's own requests/min when it has one.
- Reading back (a drift check): `GET /sale/offers` lists 1,000 offers a page (offset paging,
  newest first) with name, price, stock and `external.id` — it spends the application's budget
  only; description, parameters and the photo count need `GET /sale/product-offers/{id}`, which
  also spends the seller's 3,500 reads/min. Offset paging over a list that changes while it is
  read may skip or repeat a listing; a repeat is harmless, a listing removed meanwhile shows as
  missing (it is, by the time the report is read).
- Answers: a 200/201 that is not JSON is no answer (http.py); a 202's operation `Location` is
  followed only on the integration's own API host (never elsewhere with our bearer token).
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from urllib.parse import quote, urljoin, urlsplit

from django.utils.translation import gettext

from integrations.saleschannels.allegro.commands import MEDIA_TYPE, AllegroCommands, allegro_errors
from integrations.saleschannels.allegro.descriptor import ALLEGRO_AUTH_URL, ALLEGRO_UPLOAD_URL
from integrations.shopconnect import connection
from integrations.shopconnect.base import (
    ChannelAuthError,
    ConnectionCheck,
    ListingReads,
    ListingsPage,
    NoListing,
    OfferResult,
    OfferToSend,
)
from integrations.shopconnect.bounded import read_amount, read_count
from integrations.shopconnect.budgets import budgets_for
from integrations.shopconnect.common import (
    HttpChannelAdapter,
    OfferSnapshot,
    failed,
    json_or_empty,
    snapshot,
)
from integrations.shopconnect.http import (
    HOST_UNREACHABLE,
    ChannelClient,
    ChannelUnavailable,
    Held,
    TokenAuth,
    retry_after_seconds,
)
from integrations.wording import Reason

NAME_MAX_CHARS = 75
CONFLICT_RETRY_WAITS = (1.0, 2.0, 3.0)
MAX_OPERATION_POLLS = 10
MAX_POLL_WAIT_SECONDS = 5.0
BLOCK_START = re.compile(r"^\s*<(p|h1|h2|ul|ol)[\s>/]", re.IGNORECASE)
OAUTH_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
LISTING_PAGE = 1_000  # GET /sale/offers: at most 1,000 a page

LOGIN_UNREACHABLE = Reason(
    "Allegro's login service (%(host)s) could not be reached, so the access token could not "
    "be renewed. Check the login URL (and the API URL) in the integration's settings."
)
LOGIN_DID_NOT_ANSWER = Reason(
    "Allegro's login service did not answer, so the access token could not be renewed. Try "
    "the resync again later."
)
REFRESH_REFUSED = Reason(
    "Allegro refused to renew the access token%(code)s. Reconnect the Allegro account in the "
    "integration's settings (client ID, client secret, refresh token)."
)
NAME_SHORTENED = Reason("The name was shortened to Allegro's %(max)s characters: “%(name)s”.")
OFFER_ID_NOT_A_NUMBER = Reason("The Allegro offer id (external ID) must be a number, got “%(id)s”.")
NO_OFFER_ID = Reason("The offer has no Allegro offer id (external ID).")
PHOTO_UNREADABLE = Reason("Photo %(position)s (%(name)s) could not be read from xSale's storage.")
PHOTO_NOT_UPLOADED = Reason("Photo %(position)s was not uploaded: %(error)s")
PHOTO_REFUSED = Reason("Allegro refused photo %(position)s: %(message)s")
FOREIGN_LOCATION = Reason(
    "Allegro accepted the edit but pointed to another host (%(host)s) to follow it; xSale does "
    "not send the token there. Check the offer on Allegro."
)
STILL_PROCESSING = Reason("Allegro accepted the edit and is still processing it.")
SHORTENED_AND_PROCESSING = Reason(
    "%(warning)s Allegro accepted the edit and is still processing it."
)
NOT_LISTED = Reason("Allegro did not list the offers: %(message)s")


class AllegroAuth(TokenAuth):
    def __init__(self, integration):
        credentials = integration.credentials or {}
        super().__init__("Allegro", credentials.get("access_token", ""))
        self.auth_url = integration.auth_url or ALLEGRO_AUTH_URL
        self.client_id = credentials.get("client_id", "")
        self.client_secret = credentials.get("client_secret", "")
        self.refresh_token = credentials.get("refresh_token", "")

    def fetch_token(self, client: ChannelClient) -> str:
        try:
            response = client.request(
                "POST",
                self.auth_url,
                spend={"integration": 1},
                authenticated=False,
                auth=(self.client_id, self.client_secret),
                headers={"Accept": "application/json"},
                data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
            )
        except ChannelUnavailable as exc:
            if exc.code == HOST_UNREACHABLE:
                host = urlsplit(self.auth_url).hostname or self.auth_url
                raise ChannelAuthError(LOGIN_UNREACHABLE(host=host)) from exc
            raise ChannelAuthError(LOGIN_DID_NOT_ANSWER()) from exc
        data = json_or_empty(response)
        if (
            response.status_code != 200
            or not isinstance(data, dict)
            or not data.get("access_token")
        ):
            code = data.get("error", "") if isinstance(data, dict) else ""
            # Only a bare OAuth error code is quoted: descriptions may echo what we sent.
            reason = f" ({code})" if OAUTH_ERROR_CODE.match(str(code)) else ""
            raise ChannelAuthError(REFRESH_REFUSED(code=reason))
        self.refresh_token = data.get("refresh_token") or self.refresh_token
        self.remember_new_credentials(
            {"access_token": data["access_token"], "refresh_token": self.refresh_token}
        )
        return data["access_token"]


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())


def allegro_name(name: str) -> tuple[str, str]:
    """The name cut to Allegro's 75 characters (at a word boundary), and a warning if cut."""
    name = " ".join(name.split())
    if len(name) <= NAME_MAX_CHARS:
        return name, ""
    cut = name[:NAME_MAX_CHARS]
    if " " in cut and name[NAME_MAX_CHARS] != " ":
        cut = cut.rsplit(" ", 1)[0]
    cut = cut.rstrip(" ,;:-")
    return cut, NAME_SHORTENED(max=NAME_MAX_CHARS, name=cut)


def allegro_description(html: str) -> str:
    html = html.strip()
    if not html or BLOCK_START.match(html):
        return html
    return f"<p>{html}</p>"


def allegro_parameters(parameters: list[tuple[str, str]]) -> list[dict]:
    by_name: dict[str, list[str]] = {}
    for name, value in parameters:
        by_name.setdefault(name, []).append(value)
    return [{"name": name, "values": values} for name, values in by_name.items()]


def offer_body(snap: OfferSnapshot, images: list[str] | None) -> tuple[dict, str]:
    """The PATCH body — content, prices and stock, or both, as the run chose — and a warning
    (empty when none)."""
    body: dict = {}
    warning = ""
    if snap.send_content:
        name, warning = allegro_name(snap.name)
        body["name"] = name
        description = allegro_description(snap.description)
        if description:
            body["description"] = {
                "sections": [{"items": [{"type": "TEXT", "content": description}]}]
            }
        body["parameters"] = allegro_parameters(snap.parameters)
    if snap.send_prices_stock:
        body["sellingMode"] = {"price": {"amount": snap.price_text, "currency": snap.currency}}
        body["stock"] = {"available": snap.stock, "unit": "UNIT"}
    if snap.send_content:
        body["external"] = {"id": snap.sku}
        if images:
            body["images"] = images
    return body, warning


def listing_fields(data: dict) -> dict:
    """An offer as GET /sale/offers (or a full GET) gives it, in expected_listing's terms.

    What the channel leaves out stays out: absent is not "different".
    """
    out: dict = {}
    if isinstance(data.get("name"), str):
        out["name"] = data["name"]
    selling = data.get("sellingMode") if isinstance(data.get("sellingMode"), dict) else {}
    price = selling.get("price") if isinstance(selling.get("price"), dict) else {}
    read_amount(out, "price", price.get("amount"))
    if isinstance(price.get("currency"), str):
        out["currency"] = price["currency"]
    stock = data.get("stock") if isinstance(data.get("stock"), dict) else {}
    if isinstance(stock.get("available"), int) and not isinstance(stock["available"], bool):
        read_count(out, "stock", stock["available"])
    external = data.get("external") if isinstance(data.get("external"), dict) else {}
    if external.get("id") is not None:
        out["external_id"] = str(external["id"])
    return out


def full_offer_fields(data: dict) -> dict:
    """A whole offer (GET /sale/product-offers/{id}): the listing's fields, plus the
    description (its TEXT items, joined), parameters by name and the photo count."""
    out = listing_fields(data)
    description = data.get("description")
    if isinstance(description, dict):
        texts = []
        for section in description.get("sections") or []:
            for item in (section or {}).get("items") or [] if isinstance(section, dict) else []:
                if isinstance(item, dict) and item.get("type") == "TEXT":
                    texts.append(str(item.get("content") or ""))
        out["description"] = "".join(texts)
    parameters = data.get("parameters")
    if isinstance(parameters, list):
        out["parameters"] = {
            str(p["name"]): [str(v) for v in p.get("values") or []]
            for p in parameters
            if isinstance(p, dict) and p.get("name")
        }
    images = data.get("images")
    if isinstance(images, list):
        out["photos"] = len(images)
    return out


class AllegroAdapter(AllegroCommands, HttpChannelAdapter):
    max_in_flight = 32  # an offer with photos takes several sequential requests
    required_credentials = ("client_id", "client_secret", "refresh_token")
    readable_fields = frozenset(
        {"name", "description", "price", "currency", "stock", "parameters", "photos"}
    )
    full_read_fields = frozenset({"description", "parameters", "photos"})

    def client_auth(self) -> dict:
        return {"auth": AllegroAuth(self.integration)}

    @property
    def api_url(self) -> str:
        return self.integration.api_url.rstrip("/")

    @property
    def upload_url(self) -> str:
        return (self.integration.upload_url or ALLEGRO_UPLOAD_URL).rstrip("/")

    def prepare(self) -> None:
        """Ask Allegro whose token this is (GET /me), so the seller's budgets are keyed by the
        seller — shared with any other integration of the same account. Once per client."""
        client = self.client
        if getattr(client, "seller_known", False):
            return
        self.check_credentials()
        client.seller_known = True
        try:
            response = client.request(
                "GET",
                f"{self.api_url}/me",
                spend={"app": 1, "integration": 1},
                headers={"Accept": MEDIA_TYPE},
            )
        except (ChannelUnavailable, Held):
            return
        finally:
            # The token bought for /me came with a new refresh token (Allegro rotates it): kept
            # now, though the step may pause before it sends anything.
            self.store_new_credentials()
        data = json_or_empty(response)
        seller = data.get("id") if response.status_code == 200 and isinstance(data, dict) else None
        if seller:
            client.budgets = budgets_for(self.integration, seller=str(seller))

    # --- "Testuj połączenie" (shopconnect/connection.py) ---------------------------------

    def connection_url_hint(self) -> str:
        return "https://api.allegro.pl"

    def token_url(self) -> tuple[str, str, str]:
        return self.client.auth.auth_url, "auth_url", ALLEGRO_AUTH_URL

    def credentials_refused(self):
        return connection.failed(
            connection.Problem.CREDENTIALS,
            gettext("Allegro refused the access token and would not renew it."),
            gettext(
                "Check the client ID and client secret (apps.developer.allegro.pl → your "
                "application) and connect the Allegro account again for a new refresh token; "
                "then save and test again."
            ),
        )

    def probe_connection(self, probe) -> ConnectionCheck:
        """GET /me (whose token it is: the stored access token, renewed with the refresh
        token when Allegro refuses it), then GET /sale/offers?limit=1: the token may read the
        seller's offers (a token without the offers scopes is answered 403). Write access
        cannot be tried without an edit: the scopes are granted together when the account is
        connected."""
        headers = {"Accept": MEDIA_TYPE}
        response = probe.request(
            "GET", f"{self.api_url}/me", spend={"app": 1, "integration": 1}, headers=headers
        )
        me = json_or_empty(response)
        if response.status_code == 403:
            raise self.scopes_missing()
        if response.status_code != 200 or not isinstance(me, dict) or not me.get("id"):
            raise probe.unexpected(response)
        response = probe.request(
            "GET",
            f"{self.api_url}/sale/offers",
            spend={"app": 1, "integration": 1},
            headers=headers,
            params={"limit": 1},
        )
        offers = json_or_empty(response)
        if response.status_code == 403:
            raise self.scopes_missing()
        if response.status_code != 200 or not isinstance(offers, dict):
            raise probe.unexpected(response)
        facts = [
            gettext("Allegro account: %(login)s (user id %(id)s).")
            % {"login": str(me.get("login") or "?")[:100], "id": str(me["id"])[:40]}
        ]
        if isinstance(offers.get("totalCount"), int):
            facts.append(
                gettext("Offers on the account: %(count)s.") % {"count": offers["totalCount"]}
            )
        return ConnectionCheck(
            ok=True, summary=gettext("Allegro accepted the credentials."), facts=facts
        )

    def scopes_missing(self):
        return connection.failed(
            connection.Problem.PERMISSIONS,
            gettext("Allegro accepted the token but refused access to the account's offers (403)."),
            gettext(
                "The application lacks the offer permissions: in apps.developer.allegro.pl give "
                "it access to offers (allegro:api:sale:offers:read and :write), connect the "
                "account again for a new refresh token, save and test again."
            ),
        )

    def listing_key(self, offer) -> str:
        """Allegro's offer id: the link's external ID, a number."""
        external = offer.external_id
        if external.isascii() and external.isdigit():
            return external
        if external:
            raise NoListing(OFFER_ID_NOT_A_NUMBER(id=external), "invalid_external_id")
        raise NoListing(NO_OFFER_ID(), "missing_external_id")

    def send_snapshots(self, snapshots: list[OfferSnapshot]) -> list[OfferResult]:
        if snapshots:
            self.prepare()
        jobs = [([snap.offer_id], partial(self.send_offer, snap)) for snap in snapshots]
        return self.run_parallel(jobs)

    # --- one offer (runs in a worker thread) -------------------------------------------

    def send_offer(self, snap: OfferSnapshot) -> list[OfferResult]:
        images = None
        if snap.send_photos and snap.photos:
            images = []
            for position, photo in enumerate(snap.photos, start=1):
                location, failure = self.upload_photo(snap, position, photo)
                if failure:
                    return [failure]
                images.append(location)
        body, warning = offer_body(snap, images)
        result = self.edit_offer(snap, body, photos_sent=bool(images), warning=warning)
        if result.ok and images:
            result.photo_files = len(images)
        return [result]

    def upload_photo(self, snap: OfferSnapshot, position: int, photo):
        try:
            content = photo.read()
        except OSError:
            return None, failed(
                snap.offer_id,
                PHOTO_UNREADABLE(position=position, name=photo.name),
                code="photo_missing",
                attempts=0,
            )
        try:
            response = self.client.request(
                "POST",
                f"{self.upload_url}/sale/images",
                spend={"app": 1, "integration": 1},
                headers={"Accept": MEDIA_TYPE, "Content-Type": photo.content_type},
                data=content,
            )
        except ChannelUnavailable as exc:
            return None, failed(
                snap.offer_id,
                PHOTO_NOT_UPLOADED(position=position, error=exc),
                http_status=exc.http_status,
                code=exc.code,
                attempts=exc.attempts,
            )
        location = json_or_empty(response).get("location") if response.status_code == 201 else None
        if not location:
            code, message = allegro_errors(response)
            return None, failed(
                snap.offer_id,
                PHOTO_REFUSED(position=position, message=message),
                http_status=response.status_code,
                code=code or "photo_refused",
                attempts=response.attempts,
            )
        return location, None

    def edit_offer(
        self, snap: OfferSnapshot, body: dict, *, photos_sent: bool, warning: str
    ) -> OfferResult:
        url = f"{self.api_url}/sale/product-offers/{quote(snap.listing, safe='')}"
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE, "Accept-Language": "pl-PL"}
        attempts = 0
        for wait in (*CONFLICT_RETRY_WAITS, None):
            response = self.client.request(
                "PATCH",
                url,
                spend={"app": 1, "edits": 1, "integration": 1},
                headers=headers,
                data=payload,
            )
            attempts += response.attempts
            if response.status_code == 409 and wait is not None:
                time.sleep(wait)
                continue
            break
        if response.status_code == 200:
            return OfferResult(
                snap.offer_id, ok=True, photos_sent=photos_sent, message=warning, attempts=attempts
            )
        if response.status_code == 202:
            return self.await_operation(snap, response, photos_sent, warning, attempts)
        code, message = allegro_errors(response)
        return failed(
            snap.offer_id, message, http_status=response.status_code, code=code, attempts=attempts
        )

    def await_operation(self, snap, accepted, photos_sent: bool, warning: str, attempts: int):
        location = accepted.headers.get("Location")
        if not location:
            return OfferResult(
                snap.offer_id, ok=True, photos_sent=photos_sent, message=warning, attempts=attempts
            )
        url = urljoin(accepted.url, location)
        if not same_origin(url, self.api_url):
            return failed(
                snap.offer_id,
                FOREIGN_LOCATION(host=urlsplit(url).netloc),
                http_status=202,
                code="foreign_location",
                attempts=attempts,
            )
        delay = retry_after_seconds(accepted, 1.0)
        for _ in range(MAX_OPERATION_POLLS):
            time.sleep(min(delay, MAX_POLL_WAIT_SECONDS))
            try:
                response = self.client.request(
                    "GET",
                    url,
                    spend={"app": 1, "integration": 1},
                    headers={"Accept": MEDIA_TYPE, "Accept-Language": "pl-PL"},
                )
            except Held:  # the edit is accepted: a budget holding the look must not resend it
                break
            if response.status_code == 202:
                delay = retry_after_seconds(response, 1.0)
                continue
            if response.status_code in (200, 303):
                return OfferResult(
                    snap.offer_id,
                    ok=True,
                    photos_sent=photos_sent,
                    message=warning,
                    attempts=attempts,
                )
            code, message = allegro_errors(response)
            return failed(
                snap.offer_id,
                message,
                http_status=response.status_code,
                code=code,
                attempts=attempts,
            )
        return OfferResult(
            snap.offer_id,
            ok=True,
            photos_sent=photos_sent,
            message=SHORTENED_AND_PROCESSING(warning=warning) if warning else STILL_PROCESSING(),
            attempts=attempts,
        )

    # --- reading back (a drift check) ----------------------------------------------------

    def expected_listing(self, item: OfferToSend) -> dict:
        snap = snapshot(item)
        expected = {
            "name": allegro_name(snap.name)[0],
            "price": snap.price_text,
            "currency": snap.currency,
            "stock": snap.stock,
            "parameters": {p["name"]: p["values"] for p in allegro_parameters(snap.parameters)},
            "external_id": snap.sku,
        }
        # What a resync leaves out, the listing keeps as it is: nothing to compare.
        description = allegro_description(snap.description)
        if description:
            expected["description"] = description
        if snap.photos:
            expected["photos"] = len(snap.photos)
        return expected

    def _begin_reads(self, deadline) -> None:
        self.check_credentials()
        self.prepare()
        self.client.start_chunk(deadline)

    def read_listings(self, offset: int, *, deadline: float | None = None) -> ListingsPage:
        self._begin_reads(deadline)
        try:
            response = self.client.request(
                "GET",
                f"{self.api_url}/sale/offers",
                spend={"app": 1, "integration": 1},
                headers={"Accept": MEDIA_TYPE, "Accept-Language": "pl-PL"},
                params={"offset": offset, "limit": LISTING_PAGE},
            )
        finally:
            self.store_new_credentials()
        data = json_or_empty(response)
        offers = data.get("offers") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(offers, list):
            code, message = allegro_errors(response)
            raise ChannelUnavailable(
                NOT_LISTED(message=message),
                http_status=response.status_code,
                attempts=response.attempts,
                code=code or "list_refused",
            )
        listings = {
            str(o["id"]): listing_fields(o) for o in offers if isinstance(o, dict) and o.get("id")
        }
        total = data.get("totalCount")
        total = total if isinstance(total, int) and not isinstance(total, bool) else None
        end = offset + len(offers)
        more = len(offers) == LISTING_PAGE and (total is None or end < total)
        return ListingsPage(listings=listings, total=total, next_offset=end if more else None)

    def read_full(self, listing_ids: list[str], *, deadline: float | None = None) -> ListingReads:
        reads = ListingReads()
        if not listing_ids:
            return reads
        self._begin_reads(deadline)
        workers = min(self.max_in_flight, len(listing_ids))
        try:
            with ThreadPoolExecutor(workers, thread_name_prefix="allegro-read") as pool:
                futures = {pool.submit(self._read_one, i): i for i in listing_ids}
                try:
                    for future, listing_id in futures.items():
                        self._sort_read(reads, listing_id, future)
                except ChannelAuthError:
                    self.client.aborted.set()
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            self.store_new_credentials()
        return reads

    def _read_one(self, listing_id: str):
        return self.client.request(
            "GET",
            f"{self.api_url}/sale/product-offers/{quote(listing_id, safe='')}",
            spend={"app": 1, "reads": 1, "integration": 1},
            headers={"Accept": MEDIA_TYPE, "Accept-Language": "pl-PL"},
        )

    @staticmethod
    def _sort_read(reads: ListingReads, listing_id: str, future) -> None:
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
            reads.found[listing_id] = full_offer_fields(data)
        elif response.status_code == 404:
            reads.missing.add(listing_id)
        else:
            code, message = allegro_errors(response)
            reads.failed[listing_id] = (response.status_code, code, message)

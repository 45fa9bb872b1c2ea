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
from functools import partial
from urllib.parse import quote, urljoin, urlsplit

from django.utils.translation import gettext

from integrations.saleschannels.allegro.commands import MEDIA_TYPE, AllegroCommands, allegro_errors
from integrations.saleschannels.allegro.descriptor import ALLEGRO_AUTH_URL, ALLEGRO_UPLOAD_URL
from integrations.saleschannels.allegro.everyday import AllegroEverydayChanges
from integrations.saleschannels.allegro.mapping import offer_body
from integrations.saleschannels.allegro.reading import AllegroReading
from integrations.shopconnect import connection
from integrations.shopconnect.auth import TokenAuth
from integrations.shopconnect.base import (
    ChannelAuthError,
    ConnectionCheck,
    NoListing,
    OfferResult,
)
from integrations.shopconnect.budgets import budgets_for
from integrations.shopconnect.common import (
    HttpChannelAdapter,
    OfferSnapshot,
    failed,
    json_or_empty,
)
from integrations.shopconnect.errors import HOST_UNREACHABLE, ChannelUnavailable, Held
from integrations.shopconnect.http import ChannelClient
from integrations.shopconnect.pacing import retry_after_seconds
from integrations.wording import Reason

CONFLICT_RETRY_WAITS = (1.0, 2.0, 3.0)
MAX_OPERATION_POLLS = 10
MAX_POLL_WAIT_SECONDS = 5.0
OAUTH_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
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


class AllegroAdapter(AllegroReading, AllegroCommands, AllegroEverydayChanges, HttpChannelAdapter):
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

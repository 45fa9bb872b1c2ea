"""Amazon (Selling Partner API): listings by seller SKU, PATCHed one by one or sent in feeds.

Facts and sources: docs/channels/amazon.md (amzn/selling-partner-api-models),
docs/channels/amazon.md.

- Login with Amazon: the refresh token (with the app's client id and secret, form-encoded, at
  `auth_url`, default https://api.amazon.com/auth/o2/token) buys a one-hour access token, sent
  as `x-amz-access-token`. It is renewed a minute before it expires; a 403 (Amazon's answer to
  an expired or refused token) renews it once. A rotated refresh token is written back to the
  integration through the store (engine/store.py, fingerprint-checked). Tokens are never logged.
- The listing is the seller SKU: `OfferChannel.external_id`, falling back to our `Offer.sku`.
  The integration's settings name the seller, the marketplace (Poland `A1C3SOZRARQ6R3`), the
  language tag (`pl_PL`) and the product type; a parameter `amazon_product_type` overrides the
  product type for its offer.
- Attributes (arrays of objects; the localized ones carry `language_tag` and
  `marketplace_id`): name → `item_name`, description → `product_description` (left out when
  empty: the listing keeps its own), parameters named `bullet_point` → `bullet_point`, one
  entry each; price → `purchasable_offer` (`currency`, `our_price[].schedule[].value_with_tax`);
  stock → `fulfillment_availability` (`fulfillment_channel_code` DEFAULT). Other parameters are
  not sent: Amazon's attributes are named by the product type's definition, which xSale does
  not map.
- Photos: Amazon downloads them itself, so they go as public URLs of our media
  (`SITE_URL` + the file's URL): `main_product_image_locator`, then
  `other_product_image_locator_1` … `_8` (`media_location`). Amazon is neither Allegro nor
  Zalando (docs/architecture.md, product rule 2): locators go only when the engine says so (the
  photo set's
  hash differs from the site journal, or the channel was deactivated and re-activated on the
  offer); the slots the photo set no longer fills are deleted then.
- Every change is a JSON Patch of top-level attributes (`replace`; `delete` for emptied photo
  slots). "Prices and stock only" patches `purchasable_offer` and `fulfillment_availability`
  alone; "content only" leaves them out.
- Two ways to send (amazon_feeds.py): a run below AMAZON_FEED_THRESHOLD offers PATCHes each
  listing (`PATCH /listings/2021-08-01/items/{sellerId}/{sku}`, 5/s per seller and app); a
  larger one sends the same patches as messages of JSON_LISTINGS_FEEDs through the engine's
  asynchronous batches.
- Reading back (a drift check): prices and quantities from the GET_MERCHANT_LISTINGS_ALL_DATA
  report (created once, polled — the check pauses, holding no worker, while Amazon makes it —
  then downloaded to a temporary file under CHANNEL_MAX_DOCUMENT_BYTES, inflated when GZIP,
  and read page by page by column name: amazon_documents.py); name and description per SKU
  with `GET /listings/2021-08-01/items/…` at its 5/s.
"""

from __future__ import annotations

import time
from functools import partial
from urllib.parse import quote, urlsplit

from django.utils.translation import gettext as _

from integrations.saleschannels.amazon.descriptor import AMAZON_API_URL, AMAZON_AUTH_URL
from integrations.saleschannels.amazon.feeds import AmazonFeeds
from integrations.saleschannels.amazon.mapping import (
    Marketplace,
    amazon_errors,
    errors_of,
    issue_text,
    patches,
    photo_files,
    photos_warning,
    product_type,
)
from integrations.saleschannels.amazon.reading import AmazonReading
from integrations.shopconnect import connection
from integrations.shopconnect.auth import TokenAuth
from integrations.shopconnect.base import (
    ChannelAuthError,
    ConnectionCheck,
    OfferResult,
    OfferToSend,
)
from integrations.shopconnect.bounded import channel_seconds
from integrations.shopconnect.common import (
    HttpChannelAdapter,
    OfferSnapshot,
    failed,
    json_or_empty,
    snapshot_with_photo_urls,
)
from integrations.shopconnect.errors import HOST_UNREACHABLE, ChannelUnavailable
from integrations.shopconnect.http import ChannelClient
from integrations.wording import Reason

# Renew the access token this long before Amazon says it expires.
TOKEN_MARGIN_SECONDS = 60
LISTINGS_API = "listings/2021-08-01/items"


LOGIN_UNREACHABLE = Reason(
    "Login with Amazon (%(host)s) could not be reached, so the access token could not be "
    "renewed. Check the login URL in the integration's settings."
)
LOGIN_DID_NOT_ANSWER = Reason(
    "Login with Amazon did not answer, so the access token could not be renewed. Try again later."
)
REFRESH_REFUSED = Reason(
    "Login with Amazon refused to renew the access token%(code)s. Check the client ID, client "
    "secret and refresh token in the integration's settings (authorize the app for the seller "
    "again if the refresh token was revoked)."
)
ACCESS_REFUSED = Reason(
    "Amazon refused access (403) even with a fresh access token. Check the seller ID and that "
    "the app is authorized for this seller in Seller Central."
)
NO_SELLER_ID = Reason(
    "The Amazon integration has no seller ID (Seller Central → Settings → Account info → "
    "Merchant token). Fill it in the integration's settings."
)
LISTING_STATUS = Reason("Amazon answered %(status)s.")
NO_STATUS = Reason("no status")


class AmazonAuth(TokenAuth):
    refused_statuses = (403,)

    def __init__(self, integration):
        super().__init__("Amazon")
        credentials = integration.credentials or {}
        self.auth_url = integration.auth_url or AMAZON_AUTH_URL
        self.client_id = credentials.get("client_id", "")
        self.client_secret = credentials.get("client_secret", "")
        self.refresh_token = credentials.get("refresh_token", "")
        self._expires_at = 0.0

    def headers(self, token: str) -> dict:
        return {"x-amz-access-token": token}

    def _expired(self) -> bool:
        return time.monotonic() >= self._expires_at

    def fetch_token(self, client: ChannelClient) -> str:
        try:
            response = client.request(
                "POST",
                self.auth_url,
                authenticated=False,
                headers={"Accept": "application/json"},
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": self.refresh_token,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
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
            known = code in ("invalid_client", "invalid_grant", "unsupported_grant_type")
            reason = f" ({code})" if known else ""
            raise ChannelAuthError(REFRESH_REFUSED(code=reason))
        lifetime = channel_seconds(data.get("expires_in"), default=3600.0)
        self._expires_at = time.monotonic() + max(lifetime - TOKEN_MARGIN_SECONDS, lifetime / 2)
        rotated = data.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self.refresh_token:
            self.refresh_token = rotated
            self.remember_new_credentials({"refresh_token": rotated})
        return data["access_token"]

    def rejected(self) -> ChannelAuthError:
        return ChannelAuthError(ACCESS_REFUSED())


class AmazonAdapter(AmazonReading, AmazonFeeds, HttpChannelAdapter):
    max_in_flight = 5  # PATCHes go at 5/s: five in flight keep the budget full
    required_credentials = ("client_id", "client_secret", "refresh_token")
    readable_fields = frozenset({"name", "description", "price", "stock"})
    full_read_fields = frozenset({"name", "description"})

    def client_auth(self) -> dict:
        return {"auth": AmazonAuth(self.integration)}

    def next_look_seconds(self, checks: int, waited: float) -> float:
        """A feed takes Amazon minutes, no one knows how many: the next look comes after half
        the time waited so far (at least 1 s, at most a minute), so a report is found at most
        half its wait late (getFeed's 2/s covers the five feeds Amazon takes at once)."""
        return min(max(waited / 2, 1.0), 60.0)

    @property
    def api_url(self) -> str:
        return (self.integration.api_url or AMAZON_API_URL).rstrip("/")

    @property
    def place(self) -> Marketplace:
        return Marketplace(self.integration)

    def check_credentials(self) -> None:
        super().check_credentials()
        if not self.integration.setting("seller_id"):
            raise ChannelAuthError(NO_SELLER_ID())

    def snapshot(self, item: OfferToSend) -> OfferSnapshot:
        return snapshot_with_photo_urls(item)

    # --- "Testuj połączenie" (shopconnect/connection.py) ---------------------------------

    required_settings = ("seller_id",)

    def token_url(self) -> tuple[str, str, str]:
        return self.client.auth.auth_url, "auth_url", AMAZON_AUTH_URL

    def credentials_refused(self):
        return connection.failed(
            connection.Problem.CREDENTIALS,
            _("Login with Amazon refused the client ID, client secret or refresh token."),
            _(
                "Copy the LWA client ID and client secret of your application again (Seller "
                "Central → Apps and Services → Develop Apps), and authorize the application "
                "for the seller again for a new refresh token; save and test again."
            ),
        )

    def probe_connection(self, probe) -> ConnectionCheck:
        """An access token (the secrets are tried), then the Sellers API's
        getMarketplaceParticipations (the marketplaces the seller may sell in: the
        integration's must be one), then searchListingsItems with pageSize 1 for the
        integration's seller ID (Amazon answers 403 for a seller that did not authorize the
        application)."""
        auth_url, field, __ = self.token_url()
        probe.token(token_url=auth_url, field=field)
        place = self.place
        headers = {"Accept": "application/json"}
        not_authorized = connection.failed(
            connection.Problem.PERMISSIONS,
            _("Amazon issued a token but refused the Sellers API call (403)."),
            _(
                "The application is not authorized for this seller, or lacks the role the "
                "call needs: authorize it in Seller Central (Apps and Services → Manage Your "
                "Apps) with the Product Listing role, save the new refresh token and test "
                "again."
            ),
        )
        response = probe.request(
            "GET",
            f"{self.api_url}/sellers/v1/marketplaceParticipations",
            spend={"sellers": 1, "integration": 1},
            headers=headers,
            refused=not_authorized,
        )
        data = json_or_empty(response)
        payload = data.get("payload") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(payload, list):
            raise probe.unexpected(response)
        places, names = {}, {}
        for entry in payload:
            market = entry.get("marketplace") if isinstance(entry, dict) else None
            taking = entry.get("participation") if isinstance(entry, dict) else None
            if isinstance(market, dict) and isinstance(market.get("id"), str):
                places[market["id"][:40]] = (
                    isinstance(taking, dict) and taking.get("isParticipating") is True
                )
                names[market["id"][:40]] = str(market.get("name") or market["id"])[:60]
        if not places.get(place.marketplace_id):
            raise connection.failed(
                connection.Problem.ACCOUNT,
                _(
                    "The seller does not sell in marketplace %(marketplace)s (Amazon lists: "
                    "%(listed)s)."
                )
                % {
                    "marketplace": place.marketplace_id,
                    "listed": ", ".join(sorted(m for m, on in places.items() if on)[:20])
                    or _("none"),
                },
                _(
                    "Correct the marketplace ID in the settings (Poland: A1C3SOZRARQ6R3), or "
                    "register the seller in that marketplace; save and test again."
                ),
            )
        seller = self.integration.setting("seller_id")
        wrong_seller = connection.failed(
            connection.Problem.ACCOUNT,
            _("Amazon refused to show the listings of seller %(seller)s (403).")
            % {"seller": seller},
            _(
                "The seller ID must be the merchant token of the account that authorized the "
                "application (Seller Central → Settings → Account Info → Merchant Token); "
                "correct it, save and test again."
            ),
        )
        response = probe.request(
            "GET",
            f"{self.api_url}/{LISTINGS_API}/{quote(seller, safe='')}",
            spend={"listings_search": 1, "integration": 1},
            headers=headers,
            params={"marketplaceIds": place.marketplace_id, "pageSize": 1},
            refused=wrong_seller,
        )
        listed = json_or_empty(response)
        if response.status_code != 200 or not isinstance(listed, dict):
            raise probe.unexpected(response)
        facts = [
            _("Seller %(seller)s sells in %(name)s (marketplace %(marketplace)s).")
            % {
                "seller": seller,
                "name": names[place.marketplace_id],
                "marketplace": place.marketplace_id,
            }
        ]
        if isinstance(listed.get("numberOfResults"), int):
            facts.append(_("Listings there: %(count)s.") % {"count": listed["numberOfResults"]})
        return ConnectionCheck(ok=True, summary=_("Amazon accepted the credentials."), facts=facts)

    def listing_url(self, sku: str) -> str:
        seller = quote(self.integration.setting("seller_id"), safe="")
        return f"{self.api_url}/{LISTINGS_API}/{seller}/{quote(sku, safe='')}"

    # --- the Listings Items path -------------------------------------------------------

    def listing_key(self, offer) -> str:
        """The seller SKU: the link's external ID, else our SKU (the README's default)."""
        return offer.external_id or offer.sku

    def send_snapshots(self, snapshots: list[OfferSnapshot]) -> list[OfferResult]:
        place = self.place
        jobs = [([snap.offer_id], partial(self.patch_listing, snap, place)) for snap in snapshots]
        return self.run_parallel(jobs)

    def patch_listing(
        self, snap: OfferSnapshot, place: Marketplace, patches_of=patches
    ) -> list[OfferResult]:
        """One Listings Items PATCH; `patches_of(snap, place)` builds its operations
        (everyday sync narrows them: saleschannels/amazon/changes.py)."""
        response = self.client.request(
            "PATCH",
            self.listing_url(snap.listing),
            spend={"listings_patch": 1, "integration": 1},
            headers={"Accept": "application/json"},
            params={"marketplaceIds": place.marketplace_id, "issueLocale": "en_US"},
            json={"productType": product_type(snap, place), "patches": patches_of(snap, place)},
        )
        data = json_or_empty(response)
        if response.status_code != 200 or not isinstance(data, dict):
            code, message = amazon_errors(response)
            return [
                failed(
                    snap.offer_id,
                    message,
                    http_status=response.status_code,
                    code=code,
                    attempts=response.attempts,
                )
            ]
        issues = data.get("issues") if isinstance(data.get("issues"), list) else []
        if data.get("status") != "ACCEPTED" or errors_of(issues):
            code, message = issue_text(errors_of(issues))
            return [
                failed(
                    snap.offer_id,
                    message or LISTING_STATUS(status=data.get("status") or NO_STATUS()),
                    http_status=200,
                    code=code or str(data.get("status") or "INVALID"),
                    attempts=response.attempts,
                )
            ]
        __, warnings = issue_text(i for i in issues if isinstance(i, dict))
        warning = " ".join(m for m in (photos_warning(snap), warnings) if m)
        return [
            OfferResult(
                snap.offer_id,
                ok=True,
                photos_sent=snap.send_photos,
                photo_files=photo_files(snap),
                message=warning,
                attempts=response.attempts,
            )
        ]

"""Mirakl (Empik and the other Mirakl marketplaces): offers and products by file imports.

Facts and sources: docs/channels/mirakl.md (Mirakl's seller API, its PHP SDK).

- Authentication: the shop's API key, raw in `Authorization` (no "Bearer"); `shop_id` (a
  setting) goes as a query parameter when the key's user has several shops. The key is never
  logged nor shown.
- The listing is the shop SKU: the link's external ID, else our SKU. New offers name their
  product by `product_id_type` (a setting, default EAN: the offer's EAN; SHOP_SKU: our SKU) and
  take the `state_code` setting (default "11", new).
- Everything goes by imports through the engine's asynchronous batches (imports.py): OF01 for
  offers (price, quantity, offer description), P41 for products (title, description,
  parameters, image URLs); how each of the API's traps (OF24's reset, PRI01's delete and
  replace, REPLACE) is avoided: descriptor.py. Each call type is a budget with its published
  frequency (descriptor.py CALLS): a 429 never needs to happen.
- Photos: Mirakl downloads them from public URLs of our media (`SITE_URL`), in a product
  import of their own, only when the engine says so (product rule 2: Mirakl is neither Allegro
  nor Zalando).
- "Testuj połączenie": OF21 `GET /api/offers?max=1` — an authenticated read allowed "on each
  shop's offers page view" — not A01, which Mirakl allows once a day.
- Everyday changes (integrations/sync/): the same imports, one per call type per window, as
  batches the dispatcher writes before sending them: everyday.py.
- Reading back (a drift check): exports.py.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from integrations.saleschannels.mirakl.descriptor import EMPIK_API_URL
from integrations.saleschannels.mirakl.everyday import MiraklEverydayChanges
from integrations.saleschannels.mirakl.exports import MiraklExports
from integrations.saleschannels.mirakl.imports import MiraklImports
from integrations.shopconnect import connection
from integrations.shopconnect.auth import TokenAuth
from integrations.shopconnect.base import ChannelAuthError, ConnectionCheck
from integrations.shopconnect.common import HttpChannelAdapter, json_or_empty
from integrations.wording import Reason

KEY_REFUSED = Reason(
    "Mirakl refused the shop's API key (401). Copy the key again from the operator's back "
    "office (My account → API key) into the integration's settings."
)
NO_KEY = Reason("The Mirakl integration has no API key. Fill it in the integration's settings.")
ANSWERED = Reason("Mirakl answered %(status)s %(reason)s")


class MiraklKeyAuth(TokenAuth):
    """The shop's API key, as it is, in `Authorization`: nothing to renew or write back."""

    token_keys: tuple[str, ...] = ()

    def __init__(self, integration):
        super().__init__(integration.get_channel_display())
        self.integration = integration

    def headers(self, token: str) -> dict:
        return {"Authorization": token}

    def fetch_token(self, client) -> str:
        key = str((self.integration.credentials or {}).get("api_key") or "").strip()
        if not key:
            raise ChannelAuthError(NO_KEY())
        return key

    def rejected(self) -> ChannelAuthError:
        return ChannelAuthError(KEY_REFUSED())


class MiraklAdapter(MiraklEverydayChanges, MiraklImports, MiraklExports, HttpChannelAdapter):
    required_credentials = ("api_key",)
    readable_fields = frozenset({"description", "price", "stock"})
    full_read_fields = frozenset()
    batch_concurrency = 1  # asked from the step's thread: its store writes to the database

    def client_auth(self) -> dict:
        return {"auth": MiraklKeyAuth(self.integration)}

    @property
    def api(self) -> str:
        return f"{(self.integration.api_url or EMPIK_API_URL).rstrip('/')}/api"

    def shop_params(self) -> dict:
        shop = str(self.integration.setting("shop_id") or "").strip()
        return {"shop_id": shop} if shop else {}

    def listing_key(self, offer) -> str:
        """The shop SKU: the link's external ID, else our SKU."""
        return offer.external_id or offer.sku

    def error_message(self, response) -> str:
        """Mirakl's `{"message", "status"}`, else the status line."""
        data = json_or_empty(response)
        message = data.get("message") if isinstance(data, dict) else None
        if isinstance(message, str) and message.strip():
            return message.strip()
        return ANSWERED(status=response.status_code, reason=response.reason)

    # --- "Testuj połączenie" (shopconnect/connection.py) -----------------------------------

    def credentials_refused(self):
        return connection.failed(
            connection.Problem.CREDENTIALS,
            _("Mirakl refused the shop's API key."),
            _(
                "In the operator's back office (for Empik: Empik Marketplace → My account → API "
                "key) copy the shop's API key here; save and test again."
            ),
        )

    def probe_connection(self, probe) -> ConnectionCheck:
        """OF21 `GET /api/offers?max=1`: the key may read the shop's offers (A01, the shop's
        account, is allowed once a day only: docs/channels/mirakl.md)."""
        wrong_shop = connection.failed(
            connection.Problem.ACCOUNT,
            _("Mirakl refused access to shop %(shop)s (403).")
            % {"shop": self.integration.setting("shop_id") or "—"},
            _(
                "The shop ID must be a shop the API key's user may manage; leave it empty for "
                "the key's own shop, save and test again."
            ),
        )
        response = probe.request(
            "GET",
            f"{self.api}/offers",
            spend={"of21": 1, "integration": 1},
            headers={"Accept": "application/json"},
            params={**self.shop_params(), "max": 1},
        )
        if response.status_code == 403:
            raise wrong_shop
        data = json_or_empty(response)
        if response.status_code != 200 or not isinstance(data, dict) or "offers" not in data:
            raise probe.unexpected(response)
        facts = []
        total = data.get("total_count")
        if isinstance(total, int) and not isinstance(total, bool):
            facts.append(_("Offers in the shop: %(count)s.") % {"count": total})
        return ConnectionCheck(
            ok=True, summary=_("Mirakl accepted the shop's API key."), facts=facts
        )

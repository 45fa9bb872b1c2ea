"""Test helpers for the channel adapters: record what goes over the wire, check Allegro's spec.

- `RequestLog` wraps the process's pooled session (`http_session().send`) so a test sees every
  request an adapter sent — method, URL, headers, body, status, time — while the request still
  goes to the sandbox over real HTTP.
- `validate_allegro_request` checks one recorded request against Allegro's own OpenAPI spec
  (shared/reference/allegro-openapi.yaml) with openapi-core: our sandbox URLs are mapped back to
  Allegro's hosts first. The spec describes the REST API, not the OAuth server, so a token
  request is checked against docs/channels/allegro.md instead (POST, HTTP Basic, refresh_token
  grant).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "reference" / "allegro-openapi.yaml"
MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
API_HOST = "https://api.allegro.pl"
UPLOAD_HOST = "https://upload.allegro.pl"


@dataclass
class SentRequest:
    method: str
    url: str
    headers: dict
    body: bytes
    status: int | None
    started: float  # time.monotonic()
    finished: float

    def json(self):
        return json.loads(self.body)

    def prepared(self, url: str | None = None) -> requests.PreparedRequest:
        prepared = requests.PreparedRequest()
        prepared.method = self.method
        prepared.url = url or self.url
        prepared.headers = requests.structures.CaseInsensitiveDict(self.headers)
        prepared.body = self.body
        return prepared


class RequestLog:
    """Every request sent through the adapters' session while installed."""

    def __init__(self):
        self.sent: list[SentRequest] = []
        self._lock = threading.Lock()

    def install(self, monkeypatch) -> RequestLog:
        from integrations.shopconnect.session import http_session

        session = http_session()
        original = session.send

        def send(prepared, **kwargs):
            started = time.monotonic()
            status = None
            try:
                response = original(prepared, **kwargs)
                status = response.status_code
                return response
            finally:
                body = prepared.body or b""
                if isinstance(body, str):
                    body = body.encode()
                with self._lock:
                    self.sent.append(
                        SentRequest(
                            prepared.method,
                            prepared.url,
                            dict(prepared.headers),
                            body,
                            status,
                            started,
                            time.monotonic(),
                        )
                    )

        monkeypatch.setattr(session, "send", send)
        return self

    def matching(self, method: str | None = None, contains: str = "") -> list[SentRequest]:
        with self._lock:
            return [
                r for r in self.sent if (method is None or r.method == method) and contains in r.url
            ]


@functools.cache
def allegro_openapi():
    """Allegro's spec, loaded once per test session (1.2 MB of YAML)."""
    if not SPEC_PATH.exists():
        return None
    import yaml
    from openapi_core import Config, OpenAPI

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as fh:
        spec = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader
    config = Config(
        # Validating the spec itself takes long and is Allegro's business, not ours.
        spec_validator_cls=None,
        extra_media_type_deserializers={MEDIA_TYPE: json.loads},
    )
    return OpenAPI.from_dict(spec, config=config)


def require_allegro_openapi():
    openapi = allegro_openapi()
    if openapi is None:
        pytest.skip(f"Allegro's OpenAPI spec is not at {SPEC_PATH}")
    return openapi


def validate_allegro_request(sent: SentRequest, integration) -> None:
    """Fail the test unless `sent` is a request Allegro's spec (or OAuth contract) accepts."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest

    openapi = require_allegro_openapi()
    api_url = integration.api_url.rstrip("/")
    upload_url = integration.upload_url.rstrip("/")
    if sent.url == integration.auth_url:
        validate_token_request(sent)
        return
    if upload_url and sent.url.startswith(upload_url + "/"):
        real_url = UPLOAD_HOST + sent.url[len(upload_url) :]
    elif sent.url.startswith(api_url + "/"):
        real_url = API_HOST + sent.url[len(api_url) :]
    else:
        raise AssertionError(f"a request outside the integration's Allegro URLs: {sent.url}")
    # Raises ValidationError subclasses with the reasons (path, headers, body schema).
    openapi.validate_request(RequestsOpenAPIRequest(sent.prepared(real_url)))
    # openapi-core skips oauth2 schemes ("Unsupported scheme type"): check the bearer here.
    authorization = sent.headers.get("Authorization", "")
    assert authorization.startswith("Bearer ") and len(authorization) > 7, "no bearer token"
    assert sent.headers.get("Accept") == MEDIA_TYPE, sent.headers.get("Accept")


def validate_token_request(sent: SentRequest) -> None:
    assert sent.method == "POST"
    assert sent.headers.get("Authorization", "").startswith("Basic ")
    form = parse_qs(sent.body.decode())
    assert form.get("grant_type") == ["refresh_token"], form.keys()
    assert form.get("refresh_token"), "no refresh_token in the form"


def by_offer(results):
    """Adapter results by offer id."""
    return {r.offer_id: r for r in results}


# --- building offers for adapter tests ---------------------------------------------------


def make_offer(
    integration,
    *,
    sku: str,
    external_id: str = "",
    name: str = "Kubek ceramiczny",
    description: str = "<p>Kubek na kawę</p>",
    price: str = "129.99",
    currency: str = "PLN",
    stock: int = 5,
    ean: str = "",
    parameters: tuple = (("Materiał", "ceramika"),),
    photo_colors: tuple = (),
):
    """One offer linked to `integration`, with parameters and real JPEG photos."""
    from decimal import Decimal

    from django.core.files.base import ContentFile

    from offers.models import Offer, OfferChannel, OfferParameter, OfferPhoto
    from tests.catalogue import image_bytes

    offer = Offer.objects.create(
        sku=sku,
        ean=ean,
        name=name,
        description=description,
        price=Decimal(price),
        currency=currency,
        stock=stock,
    )
    for position, (param_name, value) in enumerate(parameters):
        OfferParameter.objects.create(offer=offer, name=param_name, value=value, position=position)
    for position, color in enumerate(photo_colors):
        photo = OfferPhoto(offer=offer, position=position)
        photo.image.save(f"{sku}-{position}.jpg", ContentFile(image_bytes(color)), save=True)
    OfferChannel.objects.create(offer=offer, integration=integration, external_id=external_id)
    return offer


def items_for(integration, *, send_photos: bool = True):
    """What the engine hands an adapter: links with offers, photos and parameters prefetched."""
    from integrations.shopconnect.base import OfferToSend
    from offers.models import OfferChannel

    links = (
        OfferChannel.objects.filter(integration=integration, active=True)
        .select_related("offer")
        .prefetch_related("offer__photos", "offer__parameters")
        .order_by("offer_id")
    )
    return [OfferToSend(offer=link.offer, link=link, send_photos=send_photos) for link in links]

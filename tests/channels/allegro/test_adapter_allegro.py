"""The Allegro adapter against the sandbox over real HTTP; each request checked by the spec."""

import base64
import logging

import pytest

from integrations.channels import Channel
from integrations.engine.store import adapter_for
from integrations.models import Integration
from integrations.shopconnect.base import ChannelAuthError
from tests.allegro_openapi import (
    by_offer,
    items_for,
    make_offer,
    require_allegro_openapi,
    validate_allegro_request,
)

# openapi-core cannot check oauth2 schemes; validate_allegro_request checks the bearer itself.
pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:Unsupported scheme type")]

SECRETS = ("sandbox-secret", "sandbox-refresh", "sandbox-access")


@pytest.fixture
def wire(wire):
    require_allegro_openapi()  # skip if the spec is absent
    return wire


@pytest.fixture
def allegro(make_integration, sandbox, sandbox_account):
    return make_integration(
        name=f"Allegro {sandbox_account}",
        channel=Channel.ALLEGRO,
        requests_per_minute=6000,
        **sandbox.integration_urls("allegro", sandbox_account),
    )


def assert_all_valid(wire, integration):
    assert wire.sent, "the adapter sent nothing"
    for sent in wire.sent:
        validate_allegro_request(sent, integration)


def test_every_field_lands_with_allegros_types(allegro, sandbox, sandbox_account, wire):
    long_name = "Kubek ceramiczny z uchem do kawy i herbaty, ręcznie malowany, pojemność 350 ml"
    mug = make_offer(
        allegro,
        sku="MUG-1",
        external_id="7001",
        name=long_name,
        description="Zwykły tekst z <b>pogrubieniem</b>",
        parameters=(("Kolor", "biały"), ("Kolor", "czarny"), ("Pojemność", "350 ml")),
        photo_colors=((200, 10, 10), (10, 200, 10)),
    )
    lamp = make_offer(allegro, sku="LAMP-1", external_id="7002", price="59.90", stock=0)

    results = by_offer(adapter_for(allegro).send(items_for(allegro)))

    assert results[mug.pk].ok and results[mug.pk].photos_sent
    assert "75" in results[mug.pk].message  # the shortened name is a warning, not a failure
    assert results[lamp.pk].ok and not results[lamp.pk].photos_sent  # it has no photos
    offers = sandbox.state("allegro", sandbox_account)["offers"]
    held = offers["7001"]
    assert len(held["name"]) <= 75 and long_name.startswith(held["name"])
    assert held["description"] == {
        "sections": [
            {"items": [{"type": "TEXT", "content": "<p>Zwykły tekst z <b>pogrubieniem</b></p>"}]}
        ]
    }
    assert held["parameters"] == [
        {"name": "Kolor", "values": ["biały", "czarny"]},
        {"name": "Pojemność", "values": ["350 ml"]},
    ]
    assert held["sellingMode"] == {"price": {"amount": "129.99", "currency": "PLN"}}
    assert held["stock"] == {"available": 5, "unit": "UNIT"}
    assert held["external"] == {"id": "MUG-1"}
    assert offers["7002"]["sellingMode"]["price"]["amount"] == "59.90"
    assert offers["7002"]["stock"]["available"] == 0
    assert "images" not in offers["7002"]
    assert_all_valid(wire, allegro)


def test_photos_are_uploaded_first_and_their_locations_used_in_order(
    allegro, sandbox, sandbox_account, wire
):
    colors = ((250, 0, 0), (0, 250, 0), (0, 0, 250))
    make_offer(allegro, sku="P-1", external_id="7101", photo_colors=colors)

    [result] = adapter_for(allegro).send(items_for(allegro))

    assert result.ok and result.photos_sent
    uploads = wire.matching("POST", "/upload/sale/images")
    assert len(uploads) == 3
    assert all(u.headers["Content-Type"] == "image/jpeg" for u in uploads)
    [patch] = wire.matching("PATCH")
    assert patch.started > max(u.finished for u in uploads)
    state = sandbox.state("allegro", sandbox_account)
    locations = state["offers"]["7101"]["images"]
    assert len(locations) == 3
    by_location = {image["location"]: image for image in state["images"].values()}
    # The gallery follows photo order: compare the bytes Allegro got with the photos' hashes.
    offer_photos = list(items_for(allegro)[0].offer.photos.all())
    assert [by_location[loc]["sha256"] for loc in locations] == [p.sha256 for p in offer_photos]
    assert_all_valid(wire, allegro)


def test_the_engine_can_leave_photos_out(allegro, sandbox, sandbox_account, wire):
    make_offer(allegro, sku="P-2", external_id="7102", photo_colors=((1, 2, 3),))

    [result] = adapter_for(allegro).send(items_for(allegro, send_photos=False))

    assert result.ok and not result.photos_sent
    assert not wire.matching("POST", "/upload/")
    assert "images" not in sandbox.state("allegro", sandbox_account)["offers"]["7102"]
    assert_all_valid(wire, allegro)


def test_a_rejected_offer_fails_alone_with_allegros_message(
    allegro, sandbox, sandbox_account, wire
):
    sandbox.configure("allegro", sandbox_account, reject_name_pattern="(?i)podróbka")
    good = make_offer(allegro, sku="G-1", external_id="7201")
    bad = make_offer(allegro, sku="B-1", external_id="7202", name="Podróbka zegarka")

    results = by_offer(adapter_for(allegro).send(items_for(allegro)))

    assert results[good.pk].ok
    failure = results[bad.pk]
    assert not failure.ok
    assert failure.http_status == 422
    assert failure.code == "OFFER_NAME_REJECTED"
    assert "not allowed" in failure.message
    assert_all_valid(wire, allegro)


def test_a_listing_missing_on_allegro_is_that_offers_404(allegro, sandbox, sandbox_account, wire):
    sandbox.configure("allegro", sandbox_account, missing_ids=["7302"])
    make_offer(allegro, sku="M-1", external_id="7301")
    gone = make_offer(allegro, sku="M-2", external_id="7302")

    results = by_offer(adapter_for(allegro).send(items_for(allegro)))

    assert results[gone.pk].http_status == 404
    assert "7302" in results[gone.pk].message
    assert sum(r.ok for r in results.values()) == 1
    assert_all_valid(wire, allegro)


def test_an_offer_without_a_numeric_listing_id_fails_without_a_request(allegro, wire):
    no_id = make_offer(allegro, sku="X-1", external_id="")
    words = make_offer(allegro, sku="X-2", external_id="abc-12")

    results = by_offer(adapter_for(allegro).send(items_for(allegro)))

    # One listing-key rule (adapter.listing_key): no id at all, or an id that is not a number.
    assert results[no_id.pk].code == "missing_external_id"
    assert results[words.pk].code == "invalid_external_id"
    assert "abc-12" in results[words.pk].message
    assert wire.sent == []


def test_two_offers_on_one_listing_send_it_once(allegro, wire):
    first = make_offer(allegro, sku="D-1", external_id="7401")
    second = make_offer(allegro, sku="D-2", external_id="7401")

    results = by_offer(adapter_for(allegro).send(items_for(allegro)))

    assert results[first.pk].ok
    assert results[second.pk].code == "duplicate_listing"
    assert len(wire.matching("PATCH")) == 1


def test_asynchronous_edits_are_polled_until_allegro_applies_them(
    allegro, sandbox, sandbox_account, wire
):
    sandbox.configure("allegro", sandbox_account, async_share=1.0)
    offer = make_offer(allegro, sku="A-1", external_id="7501", price="10.00")

    [result] = adapter_for(allegro).send(items_for(allegro))

    assert result.ok and result.offer_id == offer.pk
    polls = wire.matching("GET", "/operations/")
    assert [p.status for p in polls] == [202, 303]
    # Retry-After: 1 was respected between the PATCH's answer and the first poll.
    assert polls[0].started - wire.matching("PATCH")[0].finished >= 0.9
    held = sandbox.state("allegro", sandbox_account)["offers"]["7501"]
    assert held["sellingMode"]["price"]["amount"] == "10.00"
    assert_all_valid(wire, allegro)


def test_a_401_refreshes_the_token_once_and_stores_the_new_tokens(
    allegro, sandbox, sandbox_account, wire
):
    sandbox.configure("allegro", sandbox_account, expire_tokens=True)
    for n in range(6):
        make_offer(allegro, sku=f"R-{n}", external_id=str(7600 + n))

    results = adapter_for(allegro).send(items_for(allegro))

    assert all(r.ok for r in results)
    assert len(wire.matching("POST", "/auth/oauth/token")) == 1
    assert sandbox.state("allegro", sandbox_account)["counters"]["tokens_issued"] == 1
    stored = Integration.objects.get(pk=allegro.pk).credentials
    assert stored["access_token"] not in ("", "sandbox-access")
    assert stored["refresh_token"] not in ("", "sandbox-refresh")
    assert stored["client_secret"] == "sandbox-secret"  # the rest of the credentials is kept
    # Every PATCH after the refresh carried the new token.
    last_patch = wire.matching("PATCH")[-1]
    assert last_patch.headers["Authorization"] == f"Bearer {stored['access_token']}"
    assert_all_valid(wire, allegro)


def test_a_refused_refresh_token_stops_with_a_message_for_the_seller(
    allegro, sandbox, sandbox_account, wire
):
    allegro.credentials = {**allegro.credentials, "refresh_token": "revoked-by-seller"}
    allegro.save()
    sandbox.configure("allegro", sandbox_account, expire_tokens=True)
    for n in range(4):
        make_offer(allegro, sku=f"F-{n}", external_id=str(7700 + n))

    with pytest.raises(ChannelAuthError) as refused:
        adapter_for(allegro).send(items_for(allegro))

    message = str(refused.value)
    assert "Reconnect the Allegro account" in message
    assert "revoked-by-seller" not in message and "sandbox-secret" not in message
    # One refusal is enough: the other threads do not hammer the token endpoint.
    assert len(wire.matching("POST", "/auth/oauth/token")) == 1


def test_credentials_never_reach_the_log(allegro, sandbox, sandbox_account, wire, caplog):
    caplog.set_level(logging.DEBUG)
    sandbox.configure("allegro", sandbox_account, expire_tokens=True, fail_rate=0.2)
    for n in range(5):
        make_offer(allegro, sku=f"L-{n}", external_id=str(7800 + n), photo_colors=((9, 9, 9),))

    results = adapter_for(allegro).send(items_for(allegro))

    assert all(r.ok for r in results)
    new = Integration.objects.get(pk=allegro.pk).credentials
    basic = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
    secrets = [*SECRETS, new["access_token"], new["refresh_token"], basic]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "PATCH" in logged  # the log is not empty: requests are logged, secrets are not
    for secret in secrets:
        assert secret not in logged
        assert all(secret not in r.message for r in results)

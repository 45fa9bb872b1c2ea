"""Requests to the channel sandbox as the adapters send them (sandbox/README.md), and its
control API (seeding listings, drifting them), for the sandbox's own tests."""

import requests

ALLEGRO_JSON = "application/vnd.allegro.public.v1+json"
ALLEGRO = {
    "Authorization": "Bearer sandbox-access",
    "Accept": ALLEGRO_JSON,
    "Content-Type": ALLEGRO_JSON,
}
WOO_AUTH = ("ck_sandbox", "cs_sandbox")
BATCH = "/wp-json/wc/v3/products/batch"


def allegro_url(sandbox, account, path=""):
    return f"{sandbox.url}/allegro/{account}{path}"


def patch_offer(http, sandbox, account, offer_id, body, headers=ALLEGRO):
    return http.patch(
        allegro_url(sandbox, account, f"/sale/product-offers/{offer_id}"),
        json=body,
        headers=headers,
        allow_redirects=False,
    )


def upload(http, sandbox, account, data, content_type="image/jpeg"):
    headers = {**ALLEGRO, "Content-Type": content_type}
    return http.post(
        allegro_url(sandbox, account, "/upload/sale/images"), data=data, headers=headers
    )


def zalando_token(http, sandbox, account):
    response = http.post(
        f"{sandbox.url}/zalando/{account}/auth/token",
        auth=("sandbox-client", "sandbox-secret"),
        data={"grant_type": "client_credentials", "scope": "access_token_only"},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def zalando_post(http, sandbox, account, path, body, token="sandbox-access"):  # noqa: S107
    return http.post(
        f"{sandbox.url}/zalando/{account}/merchants/demo-merchant/{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def woo_batch(http, sandbox, account, body, auth=WOO_AUTH):
    return http.post(f"{sandbox.url}/woocommerce/{account}{BATCH}", json=body, auth=auth)


def submission(ean="5901234123457", name="Kubek", media=None):
    return {
        "product_model": {
            "merchant_product_model_id": "SKU-1",
            "product_model_attributes": {"name": name, "description": "<p>Opis</p>"},
            "product_configs": [
                {
                    "merchant_product_config_id": "SKU-1-c",
                    "product_config_attributes": {"Materiał": "ceramika"},
                    "media": media or [],
                    "product_simples": [
                        {
                            "merchant_product_simple_id": "SKU-1-s",
                            "product_simple_attributes": {"ean": ean},
                        }
                    ],
                }
            ],
        }
    }


def control(sandbox, channel, account, action, payload):
    return requests.post(
        f"{sandbox.url}/_sandbox/{channel}/{account}/{action}", json=payload, timeout=60
    )


def seed(sandbox, channel, account, offers):
    response = control(sandbox, channel, account, "seed", {"offers": offers})
    assert response.status_code == 200, response.text
    return response.json()


def drift(sandbox, channel, account, **payload):
    response = control(sandbox, channel, account, "drift", payload)
    assert response.status_code == 200, response.text
    return response.json()


def list_offers(http, sandbox, account, **query):
    return http.get(allegro_url(sandbox, account, "/sale/offers"), params=query, headers=ALLEGRO)

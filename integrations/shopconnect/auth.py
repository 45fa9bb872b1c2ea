"""A bearer token that can be refreshed: what a channel's auth subclasses (its token flow),
and what the client (shopconnect/http.py) asks for a token and tells of a refusal."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence

from integrations.shopconnect.base import ChannelAuthError
from integrations.shopconnect.errors import TOKEN_REFUSED


class TokenAuth:
    """A bearer token that can be refreshed; subclasses fetch it the channel's way.

    `generation` counts refreshes so that many threads seeing a 401 on the same token cause one
    refresh; a refused refresh is remembered until the next `send` (no storm of refreshes).

    `made_with` fingerprints the integration's URLs and credentials (all but `token_keys`) this
    auth was built from — what its refreshes are made with. New credentials are written back
    only into an integration that still has that fingerprint (common.store_new_credentials).
    """

    # The credentials a refresh renews (written back); every other one is part of `made_with`.
    token_keys: tuple[str, ...] = ("access_token", "refresh_token")
    # The statuses by which the channel refuses the token (refresh once, then ChannelAuthError).
    refused_statuses: tuple[int, ...] = (401,)

    def headers(self, token: str) -> dict:
        """How the token goes with a request (Amazon: `x-amz-access-token`)."""
        return {"Authorization": f"Bearer {token}"}

    def __init__(self, channel_name: str, access_token: str = ""):
        self.channel_name = channel_name
        self._token = access_token
        self._generation = 0
        self._refused: ChannelAuthError | None = None
        self._lock = threading.Lock()
        self.made_with = ""
        # New credentials to write back to the integration (by the calling thread), with the
        # fingerprint of what the refresh that got them was made with.
        self._new_credentials: dict | None = None
        self._new_credentials_made_with = ""
        self._new_credentials_lock = threading.Lock()

    def current(self, client) -> tuple[int, str]:
        with self._lock:
            if self._refused:
                raise self._refused
            if not self._token or self._expired():
                self._renew(client)
            return self._generation, self._token

    def refresh(self, client, seen_generation: int) -> None:
        with self._lock:
            if self._refused:
                raise self._refused
            if self._generation == seen_generation:
                self._renew(client)

    def remember_new_credentials(self, credentials: dict, *, made_with: str | None = None) -> None:
        made_with = self.made_with if made_with is None else made_with
        with self._new_credentials_lock:
            if self._new_credentials and self._new_credentials_made_with != made_with:
                self._new_credentials = None
            self._new_credentials = {**(self._new_credentials or {}), **credentials}
            self._new_credentials_made_with = made_with

    def take_new_credentials(self) -> tuple[dict | None, str]:
        """(new credentials or None, the fingerprint the refresh that got them was made with)."""
        with self._new_credentials_lock:
            new, self._new_credentials = self._new_credentials, None
            return new, self._new_credentials_made_with

    def allow_retry(self) -> None:
        with self._lock:
            self._refused = None

    def _renew(self, client) -> None:
        try:
            self._token = self.fetch_token(client)
        except ChannelAuthError as exc:
            self._refused = exc
            raise
        self._generation += 1

    def _expired(self) -> bool:
        return False

    def fetch_token(self, client) -> str:
        raise NotImplementedError

    def rejected(self) -> ChannelAuthError:
        return ChannelAuthError(TOKEN_REFUSED(channel=self.channel_name))


def credentials_fingerprint(integration, token_keys: Sequence[str]) -> str:
    """What a token refresh is made with: the integration's URLs and every credential but the
    tokens it renews. Refreshed tokens are stored only into an integration that still has the
    fingerprint its refresh started with (store_new_credentials)."""
    credentials = {k: v for k, v in (integration.credentials or {}).items() if k not in token_keys}
    payload = json.dumps(
        [integration.api_url, integration.upload_url, integration.auth_url, credentials],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()

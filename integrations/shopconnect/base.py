"""What every channel adapter takes and returns (the engine depends only on this).

An adapter gets a batch of offers — each with its photos and parameters prefetched, its channel
link and the photo decision already made by the engine — sends them the channel's way, and
returns one OfferResult per offer, in any order.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from integrations.shopconnect.store import ChannelStore, NoStore
from integrations.wording import Reason

NO_EXTERNAL_ID = Reason(
    "The offer has no external ID for this channel (the id of its listing there)."
)


@dataclass
class OfferToSend:
    # The engine's offers.Offer (`offer.photos.all()` and `offer.parameters.all()` prefetched)
    # and its offers.OfferChannel: read, never written (channels do not touch the database).
    offer: object
    link: object
    send_photos: bool
    # What to send (ResyncRun.data_types): content = name, description, parameters (and
    # photos as decided); prices_stock = prices and stock.
    send_content: bool = True
    send_prices_stock: bool = True


# The most of a channel's words xSale stores (ResyncFailure, SiteJournal, a batch's results):
# a processing report may carry pages of text per offer, or one message a megabyte long.
MESSAGE_MAX_CHARS = 2000
CODE_MAX_CHARS = 100


def stored_text(text, limit: int = MESSAGE_MAX_CHARS) -> str:
    """A channel's message or code as xSale stores it: text without NUL (PostgreSQL refuses
    it), at most `limit` characters. Every outcome (OfferResult, BatchSubmission) holds its
    words this way from the moment it is made, and the engine writes them this way."""
    text = str(text or "").replace("\x00", "")
    return text[:limit]


@dataclass
class OfferResult:
    offer_id: int
    ok: bool
    photos_sent: bool = False
    # Photo files sent (uploaded, or handed to the channel as URLs).
    photo_files: int = 0
    # Not sent in this chunk (a budget or the channel made us wait): neither done nor failed.
    deferred: bool = False
    http_status: int | None = None
    code: str = ""
    # The channel's own message for a failure (never containing credentials), or a warning.
    message: str = ""
    attempts: int = 1
    # What reached the channel when it is not the offer as read now (an asynchronous batch's
    # values, recorded later): {"price", "currency", "stock"}.
    sent: dict = field(default_factory=dict)

    def __post_init__(self):
        self.code = stored_text(self.code, CODE_MAX_CHARS)
        self.message = stored_text(self.message)


@dataclass
class ListingsPage:
    """One page of what the channel holds (a drift check's first step)."""

    # listing id (OfferChannel.external_id) -> its fields as `expected_listing` names them
    listings: dict[str, dict]
    total: int | None  # listings the channel says it holds, when it says
    next_offset: int | None  # None: this was the last page


@dataclass
class ListingReads:
    """Full listings read one by one (read_full): every id asked lands in one of these."""

    found: dict[str, dict] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)  # the channel answered 404
    # id -> (HTTP status, code, message): no answer worth comparing
    failed: dict[str, tuple] = field(default_factory=dict)
    deferred: set[str] = field(default_factory=set)  # a budget made us wait: not read


@dataclass
class BatchPlan:
    """Offers to send as one asynchronous operation (an Allegro price command): the engine
    writes it as a ChannelBatch before anything is sent, then calls `submit_batch`."""

    operation: str  # the adapter's name for it, e.g. "allegro:price"
    offer_ids: list[int]
    # JSON: what it changes and what the adapter needs to send it again. Keys the engine
    # reads: "sent" (the value the batch sets for all its offers, as the site journal keeps
    # it: {"price", "currency"} or {"stock"}) and "photos_sent" ({offer pk: photo files} of
    # the offers whose photos the batch carries); "payload": what the batch sends when it is
    # larger than what it sets (an Amazon feed's messages), dropped once the channel registered
    # the batch (engine/batches.py PAYLOAD). The engine adds "journal_photos" and "planned".
    changes: dict


@dataclass
class BatchSubmission:
    """What the channel said to a batch: registered (its report comes later) or refused."""

    registered: bool
    # When to look at its report first (seconds from now).
    check_after: float = 2.0
    http_status: int | None = None
    code: str = ""
    message: str = ""  # the channel's own words, when it refused
    # What the engine keeps on the batch with its registration (its `changes`), for reading
    # its report (Amazon: {"feed_id"}); kept in the same write that marks it submitted.
    keep: dict = field(default_factory=dict)

    def __post_init__(self):
        self.code = stored_text(self.code, CODE_MAX_CHARS)
        self.message = stored_text(self.message)


@dataclass
class ConnectionCheck:
    """What a connection test ("Testuj połączenie") found: working, or what is wrong and what
    to do, in the seller's words (shopconnect/connection.py). Never carries a secret."""

    ok: bool
    # What is wrong (connection.Problem): "" when ok; "credentials", "unreachable", "tls",
    # "not_api", "permissions", "account", "settings", "channel_error", "busy".
    problem: str = ""
    summary: str = ""  # one line: it works, or what is wrong
    advice: str = ""  # what to do about it
    # What the channel told us that the seller may check ("Allegro account: …"), harmless.
    facts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OfferKeys:
    """What may name an offer's listing on a channel: our SKU, the EAN, the link's external ID
    (an OfferSnapshot carries the same three)."""

    sku: str
    ean: str
    external_id: str

    @classmethod
    def of(cls, link) -> "OfferKeys":
        offer = link.offer
        return cls(
            sku=offer.sku,
            ean=(offer.ean or "").strip(),
            external_id=(link.external_id or "").strip(),
        )


class NoListing(Exception):
    """The offer names no listing by the channel's rule (ChannelAdapter.listing_key): its send
    fails, and a drift check cannot compare it, with this reason and code."""

    def __init__(self, message: str, code: str = "missing_external_id"):
        super().__init__(message)
        self.message = message
        self.code = code

    def result(self, offer_id: int) -> OfferResult:
        """The offer's outcome: failed with this reason, nothing sent."""
        return OfferResult(offer_id, ok=False, code=self.code, message=self.message, attempts=0)


class ChannelAuthError(Exception):
    """The channel refuses our credentials even after a token refresh: the run cannot go on.

    The message is for the seller ("Allegro refused the access token; reconnect the account").
    """


class ChannelAdapter(ABC):
    """Every hook the engine calls (integrations/engine/; docs/adding-a-channel.md)."""

    def __init__(self, integration, store: ChannelStore | None = None):
        self.integration = integration
        # What the channel keeps goes through this port (shopconnect/store.py); NoStore: an
        # adapter built to read only.
        self.store: ChannelStore = store or NoStore()

    def test_connection(self, *, deadline: float) -> ConnectionCheck:
        """ "Testuj połączenie": one cheap authenticated read (or two: who we are, then whether
        we may act for this seller), within `deadline` (time.monotonic()), spending the
        channel's budgets like any request. Sends nothing to any offer. Never raises for what
        the channel answers: every outcome is a ConnectionCheck saying what is wrong and what
        to do. A token refreshed on the way is written back to the integration."""
        raise NotImplementedError(f"{type(self).__name__} cannot test its connection")

    def listing_key(self, offer) -> str:
        """Which listing on the channel `offer` is: the ONE rule of a send (which listing it
        edits), a drift check (which listing it is compared with, which listings no offer
        names) and so of a fix of the drift. `offer` has `sku`, `ean` and `external_id` (an
        OfferSnapshot, or OfferKeys.of(link)). Raises NoListing with the reason a seller reads
        when the offer names none. Default: the link's external ID, as it is."""
        if offer.external_id:
            return offer.external_id
        raise NoListing(NO_EXTERNAL_ID())

    def prepare(self) -> None:  # noqa: B027 - most channels need nothing
        """Once per task, before any chunk: learn what the budgets need (Allegro: the seller).

        Raises ChannelAuthError when the channel refuses our credentials.
        """

    @abstractmethod
    def send(self, items: list[OfferToSend], *, deadline: float | None = None) -> list[OfferResult]:
        """Send a batch (an engine chunk, up to a few hundred offers); never raises per offer.

        `deadline` (time.monotonic()) bounds every wait and retry. Offers that could not go
        because a budget or the channel made us wait come back `deferred`; `held` then says
        until when and why.
        """

    def send_changes(
        self,
        groups: frozenset[str],
        items: list[OfferToSend],
        *,
        deadline: float | None = None,
        on_answer=None,
    ) -> list[OfferResult]:
        """Everyday sync (integrations/sync/): send only the data `groups` (offers.DataGroup:
        stock, price, content, photos) of these offers; never raises per offer, like `send`.
        Photos go where `item.send_photos` says (the dispatcher applies the photo rule).

        The channel's own way is its descriptor's `changes` (saleschannels/<channel>/
        changes.py). Without one, `send` carries content (and photos as decided) for content
        or photos, and prices and stock for price or stock: a stock or price change never
        carries content or photos.

        `on_answer(results)`: called from this thread with the final results of offers as
        their answers arrive, before this returns (the dispatcher records each confirmation
        at once, so a kill leaves only requests cut mid-flight in doubt). The channels' own
        ways made by `shopconnect.changes.sender` call it; others may not. Every result is
        returned as well."""
        from django.utils.module_loading import import_string

        from integrations.channels import descriptor
        from integrations.shopconnect.pacing import answers_to

        path = descriptor(self.integration.channel).changes
        if path:
            with answers_to(on_answer):
                return import_string(path)(self, groups, items, deadline)
        return self.send_by_flags(groups, items, deadline=deadline)

    # Everyday sync: the budgets a send of changes spends once per request, whatever it carries
    # (a batch channel's). The sync process spreads an integration's rounds by them
    # (`changes_spacing`), so a minute's requests are not all spent on small batches in its
    # first seconds while the changes of its last ones wait for the next minute.
    changes_request_budgets: tuple[str, ...] = ()

    def changes_spacing(self) -> float:
        """Seconds a send of changes takes of `changes_request_budgets`' slowest pace, with a
        margin (WooCommerce's 60 a minute: 1.05 s). 0: rounds go as fast as changes come."""
        budgets = self.budgets()
        paces = [
            limit.seconds / limit.count
            for name in self.changes_request_budgets
            if name in budgets
            for limit in budgets[name].limits
            if limit.count > 0
        ]
        return 1.05 * max(paces, default=0.0)

    def read_current(
        self, listing_ids: list[str], *, deadline: float | None = None
    ) -> ListingReads | None:
        """Everyday sync's doubt (integrations/sync/doubt.py): each listing as the channel
        holds it now, one read per listing (`GET` of that listing), its fields in
        `expected_listing`'s terms. A send a killed process left in flight is confirmed
        without sending when the channel holds the value already. None: this channel cannot
        read one listing — a send in doubt goes again (at least once, never lost).

        Raises Held, ChannelUnavailable, ChannelAuthError like the drift check's readers."""
        return None

    def send_by_flags(
        self, groups: frozenset[str], items: list[OfferToSend], *, deadline: float | None = None
    ) -> list[OfferResult]:
        """`send_changes` by the flags `send` knows: content and photos, prices and stock."""
        content = bool(groups & {"content", "photos"})
        prices_stock = bool(groups & {"price", "stock"})
        narrowed = [
            OfferToSend(
                offer=item.offer,
                link=item.link,
                send_photos=item.send_photos and content,
                send_content=content,
                send_prices_stock=prices_stock,
            )
            for item in items
        ]
        return self.send(narrowed, deadline=deadline)

    def change_batch_budgets(self, group: str) -> tuple[str, ...] | None:
        """Everyday changes that go as asynchronous batches (integrations/sync/awaiting.py;
        Mirakl's imports): the budgets a batch carrying the data `group` spends. The
        dispatcher takes such changes only when each of them has room, so what arrives within
        a budget's window goes in one batch. None (the default): `send_changes` sends them."""
        return None

    def changes_in_batches(self, changes: list[tuple[frozenset[str], OfferToSend]]) -> set[int]:
        """Of a round's changes whose groups all go as batches (the groups each offer changes,
        its item), the offers (pks) that do; the others go by `send_changes` now, first (Allegro:
        only offers sharing a value with enough others go by command). Default: all."""
        return {item.offer.pk for __, item in changes}

    def plan_change_batches(
        self, changes: list[tuple[frozenset[str], OfferToSend]]
    ) -> tuple[list[OfferResult], list[BatchPlan]]:
        """The batches of everyday changes (the groups each offer changes, its item): the
        offers refused before any request (with their reason) and the plans, each plan's
        `changes["carries"]` naming, per offer (its pk as text), the groups it carries. An
        offer's group no plan carries stays pending for a later round."""
        raise NotImplementedError

    def answered(self) -> int:
        """Offers of the send under way the channel has answered so far, read from another
        thread while it goes: the run's progress within a chunk (engine/resync_chunk.py).
        0: the adapter does not tell; the chunk's offers then show when it is recorded."""
        return 0

    def stop(self) -> None:  # noqa: B027 - an adapter with nothing in flight has nothing to stop
        """The run is being cancelled: send nothing more (called from another thread)."""

    @property
    def held(self):
        """The integrations.shopconnect.http.Held that deferred offers of the last send."""
        return None

    @property
    def pacing(self):
        """(Budget, Limit) that last made a request of the last send wait: what sets the
        run's pace, for the seller. None: nothing waited on a budget."""
        return None

    def budgets(self) -> dict:
        """The budgets this integration spends, by name (integrations/shopconnect/budgets.py)."""
        return {}

    def offer_spends(self, offers: int, data_types: str = "all") -> list[tuple]:
        """What `offers` offers cost of each budget in a resync: [(Budget, units)]."""
        costs = self.integration.facts.offer_cost(data_types)
        return [
            (budget, max(1, round(offers * costs[name])))
            for name, budget in self.budgets().items()
            if name in costs and budget.limits
        ]

    # --- asynchronous operations (engine/batches.py) --------------------------------------

    def goes_in_batches(self, offers: int, data_types: str) -> bool:
        """Whether a run of `offers` offers sending `data_types` goes (partly) in asynchronous
        batches: its chunks are then `facts.batch_chunk_size` offers, larger groups. Default:
        the data types with two paths at once (Allegro's prices and stock)."""
        facts = self.integration.facts
        return data_types in facts.parallel_paths and bool(facts.batch_chunk_size)

    def plan_batches(
        self, items: list[OfferToSend], *, run_offers: int, batched: bool = False
    ) -> tuple[list[OfferToSend], list[BatchPlan]]:
        """Split a chunk: what `send` takes now, and what goes as asynchronous batches whose
        outcome the channel reports later. `run_offers` is how many offers the whole run sends
        (to share them between the channel's budgets); `batched` is `goes_in_batches` of the
        run. Default: everything by `send`."""
        return items, []

    def estimate_seconds(self, offers: int, data_types: str) -> tuple[float, str] | None:
        """How long a run of `offers` takes, and what sets that (for the seller), where the
        budgets per offer (`facts.cost_per_offer`) cannot tell — a run whose batches the
        channel processes in its own time (Amazon's feeds). None: the budgets tell."""
        return None

    def split_seconds(self, offers: int, price_groups: list[int], stocks: int) -> float | None:
        """How long a run of `offers` shared between the channel's two paths (facts.
        parallel_paths) takes when each path's full cost counts — its offers in groups of one
        price (`price_groups`, the catalogue's, counted over `offers`) and `stocks` distinct
        stocks. None: the paths' windows alone tell (budget_estimates.balanced_split)."""
        return None

    # Batches the engine may submit or read at once in each lane (one per operation, one for
    # the reports), from threads of its own: submit_batch and read_batch must then not use
    # the store (the engine writes what they return).
    batch_concurrency: int = 1

    def next_look_seconds(self, checks: int, waited: float) -> float:
        """Seconds until the next look at a batch's report, after `checks` looks found it not
        carried out, `waited` seconds after it was submitted: 3 s, 4.5 s, … once a minute."""
        return min(2 * 1.5**checks, 60.0)

    def begin_batches(self, deadline: float | None) -> None:  # noqa: B027 - nothing to set up
        """Before a step's batch work: bound its waits by `deadline` (as `send` does)."""

    def store_new_credentials(self) -> None:  # noqa: B027 - nothing renewed by default
        """Write what the channel renewed meanwhile (a rotated refresh token) to the
        integration. Called from the step's thread, as answers are written: `send` and the
        readers do it themselves; the engine does it for batch work (engine/batches.py)."""

    def submit_batch(self, batch) -> BatchSubmission:
        """Submit a ChannelBatch once, under its idempotency key (`batch.key`): a batch the
        channel registered earlier (a retry after a crash) answers registered again.

        Raises Held (a budget made us wait), ChannelUnavailable (try again later),
        ChannelAuthError."""
        raise NotImplementedError("this channel has no asynchronous operations")

    def find_submitted(self, batch, sent_at) -> BatchSubmission | None:
        """For a channel that takes no idempotency key: the batch's registration request went
        at `sent_at` (the adapter said so through `store.submitting`) and its answer was lost.
        What the channel registered (a BatchSubmission, registered or refused with the
        reason), or None when it registered nothing: the engine then submits it again.
        Raises Held while the request may still be in flight. Default: nothing registered
        (an adapter that never calls `store.submitting` is never asked)."""
        return None

    def read_batch(self, batch) -> dict[int, OfferResult] | None:
        """The batch's report: None while the channel has not carried it out, else one
        OfferResult per offer it reported (offers missing from it are failed by the engine).

        Raises Held, ChannelUnavailable, ChannelAuthError."""
        raise NotImplementedError("this channel has no asynchronous operations")

    # --- reading back (a drift check, engine/drift_check.py) -------------------------------

    # The fields a drift check can compare on this channel, and those of them that only a
    # full read of each listing gives (read_full). Empty: the channel has no read API.
    readable_fields: frozenset = frozenset()
    full_read_fields: frozenset = frozenset()
    # Why nothing can be checked, for the seller (a channel without a read API).
    unreadable_note: str = ""

    def read_listings(self, offset: int, *, deadline: float | None = None) -> ListingsPage:
        """The channel's listings from `offset` on, one page (its largest), in a stable order.

        Raises Held (a budget made us wait), ChannelUnavailable, ChannelAuthError.
        """
        raise NotImplementedError(self.unreadable_note or "this channel cannot be read back")

    def read_full(self, listing_ids: list[str], *, deadline: float | None = None) -> ListingReads:
        """Each listing whole (the fields of `full_read_fields`), read in parallel."""
        raise NotImplementedError(self.unreadable_note or "this channel cannot be read back")

    def expected_listing(self, item: OfferToSend) -> dict:
        """What the listing holds after a resync of `item` sent everything: the fields of
        `readable_fields`, in read_listings' terms (the channel's name cut, HTML wrapping)."""
        raise NotImplementedError(self.unreadable_note or "this channel cannot be read back")

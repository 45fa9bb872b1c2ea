"""The drift check: what would a resync change? (issue #12)

A check is a ResyncRun of kind "check": it starts, pauses for budgets, cancels, resumes and
shows progress exactly like a resync (the skeleton's lease, pauses and errors), but it only
reads. `DriftCheck` is its Step; it works in three phases, `run.check_phase`, each resumable
at `run.cursor`:

1. "listings": page through what the channel holds (Allegro `GET /sale/offers`, 1,000 a page;
   WooCommerce products, 100 a page) into DriftListing rows, in bulk. Cursor: listings read.
2. "offers": walk the integration's active offers by keyset (offer pk) and compare each with
   its listing — the one the adapter sends it to (`listing_key`: Allegro's offer id and
   WooCommerce's product id are the external ID; Amazon's seller SKU is the external ID, else
   our SKU) — field by field, as the adapter would
   send it (`expected_listing`: Allegro's 75-character name, its HTML wrapping). Where a field
   needs the whole listing (Allegro: description, parameters, photo count) the chunk's
   listings are read in parallel (`read_full`, Allegro's 3,500 reads/min). Differences and
   offers missing on the channel become DriftItem rows, with when we last sent the offer (the
   site journal's `synced_at`). A listing that could not be read, or an offer that names no
   listing by the channel's rule, is the offer's failure (ResyncFailure) with the reason a
   send would give. Cursor: the last offer pk compared.
3. "unknown": listings no offer of the integration names (by the same rule) are "unknown".
   Cursor: the last DriftListing pk reported.

What the channel answers is not trusted to end the reading (docs/architecture.md, trust
boundaries): a check reads at
most `listings_bound` listings — twice the integration's offers, at least LISTINGS_FLOOR,
never more than settings.DRIFT_MAX_LISTINGS — and stops when a page brings no new listing or
the next offset does not move on. Either ends the check `failed`, with the reason a seller
reads on the report, having compared nothing: with part of the list it would call offers
"missing" that are there. The channel's own count (`total`) is only shown, clamped to the bound.

Progress is honest: `total` = the channel's listing count (known from the first page) + our
offers; `processed` = listings read + offers compared. The run's `report` keeps the counts per
field and kind, what was compared and any note.

What is compared follows the run's `data_types`: prices and stock (price, currency, stock —
on Allegro from the offer list alone, 1 request per 1,000 offers), content (name, description,
parameters, photo count) or all. xSale reads nothing back from Zalando yet
(docs/channels/zalando.md, "Reading back"): a check there ends at once with a note saying so.

"Resync only what differs" is services/drift.py's `start_fix`: a resync limited to the check's
differing offers (not the missing ones: an edit cannot bring a listing back), as
`start_resync(..., differing_of=check)`; selection.run_links applies it.
"""

import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import formats

from integrations.engine.comparing import compare, shown
from integrations.engine.recording import before_first_deferred, failure, under_lease
from integrations.engine.selection import load_chunk
from integrations.engine.skeleton import End, Step
from integrations.engine.store import adapter_for
from integrations.models import DriftItem, DriftListing, ResyncFailure, ResyncRun
from integrations.shopconnect.base import NoListing, OfferKeys, OfferResult, OfferToSend
from integrations.shopconnect.bounded import UNREADABLE as UNREADABLE_FIELD
from integrations.shopconnect.errors import OVERSIZED, UNBOUNDED, ChannelUnavailable, Held
from integrations.wording import Reason
from offers.models import OfferChannel, SiteJournal

logger = logging.getLogger(__name__)

FIELDS = ("name", "description", "price", "currency", "stock", "parameters", "photos")
PRICES_STOCK_FIELDS = ("price", "currency", "stock")
CONTENT_FIELDS = ("name", "description", "parameters", "photos")
FIELDS_BY_DATA_TYPES = {
    ResyncRun.DataTypes.ALL: FIELDS,
    ResyncRun.DataTypes.PRICES_STOCK: PRICES_STOCK_FIELDS,
    ResyncRun.DataTypes.CONTENT: CONTENT_FIELDS,
}


class Phase:
    LISTINGS = "listings"
    OFFERS = "offers"
    UNKNOWN = "unknown"


UNKNOWN_BATCH = 1_000
LISTINGS_BATCH = 1_000
# A check reads up to twice the integration's offers, but at least this many listings (a shop
# holds listings xSale does not manage) and never more than settings.DRIFT_MAX_LISTINGS.
LISTINGS_FLOOR = 10_000


# Reasons a check stores (worded in the reader's language when shown: integrations/wording.py).
UNREADABLE = Reason(
    "xSale does not read offers back from %(channel)s (its only read API, the Product Status "
    "Report, lags minutes to hours behind), so xSale cannot tell what %(channel)s holds: "
    "nothing was compared. A resync (or one limited to prices and stock) is the only way to "
    "be sure it holds the catalogue."
)
KEPT_LISTING = Reason(
    "%(channel)s kept listing offers beyond %(bound)s (offers of this integration in "
    "xSale: %(offers)s), so the check stopped reading there and compared nothing: with "
    "part of the list it would report offers as missing that are there. The channel "
    "may be answering wrongly; try the check again later."
)
SAME_LISTINGS = Reason(
    "%(channel)s did not move on to new listings after %(count)s (it answered the same "
    "ones again, or none), so the check stopped reading and compared nothing. The "
    "channel may be answering wrongly; try the check again later."
)
NOT_READ = Reason("The listing could not be read, so it was not compared: %(reason)s")
DEACTIVATED = Reason("The integration was deactivated, so its drift check stopped.")


def unreadable_note(channel: str) -> str:
    """Stored (English): word it to show it (integrations/wording.py)."""
    return UNREADABLE(channel=channel)


class DriftCheck(Step):
    """Read, compare, report — each phase resumable at the run's cursor."""

    deactivated = DEACTIVATED

    def __init__(self, run: ResyncRun, token: str):
        super().__init__(run, token)
        self.adapter = adapter_for(run.integration)

    def prepare(self):
        run, adapter = self.run, self.adapter
        if not adapter.readable_fields:
            note = unreadable_note(run.integration.get_channel_display())
            report = {"note": note, "compared": [], "unreadable": True}
            return End(ResyncRun.Status.COMPLETED, note, {"total": 0, "report": report})
        adapter.prepare()  # ChannelAuthError: the skeleton fails the run with its message
        if not run.check_phase:
            self.run = _begin(run, self.token, adapter)
        return None

    def stop(self):
        self.adapter.stop()  # a cancel stops the reads in flight (they are not recorded)

    def advance(self, deadline: float):
        run, token, adapter = self.run, self.token, self.adapter
        if run.check_phase == Phase.LISTINGS:
            try:
                self.run, stopped = _read_listings(run, token, adapter, deadline)
            except ChannelUnavailable as exc:
                if exc.code not in (OVERSIZED, UNBOUNDED):
                    raise
                stopped = str(exc)  # asking again would read the same document (or answer)
            if stopped:
                logger.warning("drift check %s stopped reading listings: %s", run.pk, stopped)
                return End(ResyncRun.Status.FAILED, stopped)
        elif run.check_phase == Phase.OFFERS:
            self.run = _compare_offers(run, token, adapter, deadline)
        else:
            reported = _report_unknown(run, token, adapter)
            if reported is None:
                logger.info("drift check %s finished: %s", run.pk, run.report)
                return End(ResyncRun.Status.COMPLETED, fields={"total": run.processed})
            self.run = reported
        return None


def compared_fields(run: ResyncRun, adapter) -> list[str]:
    return [f for f in FIELDS_BY_DATA_TYPES[run.data_types] if f in adapter.readable_fields]


def linked_offers(run: ResyncRun) -> int:
    """The integration's offers with a listing (inactive links too: their listings stay)."""
    return OfferChannel.objects.filter(integration_id=run.integration_id).count()


def listings_bound(linked: int) -> int:
    """The most listings a check reads (the module's docstring says why)."""
    return min(settings.DRIFT_MAX_LISTINGS, max(2 * linked, LISTINGS_FLOOR))


def _begin(run: ResyncRun, token: str, adapter) -> ResyncRun:
    fields = compared_fields(run, adapter)
    report = {
        "offers": run.total,
        "linked": (linked := linked_offers(run)),
        "listings_bound": listings_bound(linked),
        "listings_total": None,
        "listings": 0,
        "compared": fields,
        "full_reads": bool(set(fields) & adapter.full_read_fields),
        "fields": {},
        "differs": 0,
        "missing": 0,
        "unknown": 0,
        "unreadable": False,
    }
    return _advance(run, token, check_phase=Phase.LISTINGS, cursor=0, report=report)


def _advance(run: ResyncRun, token: str, **fields) -> ResyncRun:
    """Write the check's progress under the lease (recording.under_lease) and read it back."""
    under_lease(run, token, **fields)
    return ResyncRun.objects.select_related("integration").get(pk=run.pk)


def _read_listings(run: ResyncRun, token: str, adapter, deadline: float):
    """Read one page into DriftListing rows: (the run, None) or (the run, why reading stopped)."""
    page = adapter.read_listings(run.cursor, deadline=deadline)
    report = dict(run.report)
    if "listings_bound" not in report:  # a check begun before the bound existed
        report["linked"] = linked_offers(run)
        report["listings_bound"] = listings_bound(report["linked"])
    bound = report["listings_bound"]
    channel = run.integration.get_channel_display()
    listings = {key[:100]: data for key, data in page.listings.items()}
    stopped = None
    room = max(bound - report["listings"], 0)
    if len(listings) > room:
        listings = dict(list(listings.items())[:room])
        stopped = KEPT_LISTING(
            channel=channel, bound=_number(bound), offers=_number(report["linked"])
        )
    elif page.next_offset is not None and (
        page.next_offset <= run.cursor or not _new_listings(run, listings)
    ):
        stopped = SAME_LISTINGS(channel=channel, count=_number(report["listings"]))
    report["listings"] += len(listings)
    if report["listings_total"] is None and page.total is not None:
        # Only shown (and the progress bar's size): clamped, the channel's word is not trusted.
        report["listings_total"] = min(max(page.total, 0), bound)
    last = page.next_offset is None and not stopped
    if last:
        report["listings_total"] = report["listings"]  # what the channel really listed
    listed = report["listings_total"] if report["listings_total"] is not None else 0
    total = max(report["offers"] + max(listed, report["listings"]), run.processed)
    with transaction.atomic():
        DriftListing.objects.bulk_create(
            [
                DriftListing(check_run_id=run.pk, external_id=key, data=data)
                for key, data in listings.items()
            ],
            ignore_conflicts=True,  # a listing a shifted page gave twice
            batch_size=LISTINGS_BATCH,
        )
        run = _advance(
            run,
            token,
            check_phase=Phase.OFFERS if last else Phase.LISTINGS,
            cursor=0 if last else max(page.next_offset or 0, run.cursor),
            processed=F("processed") + len(listings),
            total=total,
            report=report,
        )
    return run, stopped


def _new_listings(run: ResyncRun, listings: dict) -> int:
    """How many of a page's listings the check has not read before."""
    seen = DriftListing.objects.filter(check_run_id=run.pk, external_id__in=list(listings))
    return len(listings) - seen.count()


def _number(value: int) -> str:
    return formats.number_format(value, force_grouping=True)


def _compare_offers(run: ResyncRun, token: str, adapter, deadline: float) -> ResyncRun:
    chunk = load_chunk(run, run.cursor, run.integration.facts.chunk_size)
    if not chunk.links:
        return _advance(run, token, check_phase=Phase.UNKNOWN, cursor=0)
    links = chunk.links
    key_of, unkeyed = listing_keys(adapter, links)
    listings = dict(
        DriftListing.objects.filter(
            check_run=run, external_id__in={k for k in key_of.values() if k}
        ).values_list("external_id", "data")
    )
    fields = run.report.get("compared") or compared_fields(run, adapter)
    unreadable: dict[str, tuple] = {}
    deferred = False
    if set(fields) & adapter.full_read_fields:
        reads = adapter.read_full(sorted({k for k in key_of.values() if k in listings}),
                                  deadline=deadline)  # fmt: skip
        for key, data in reads.found.items():
            listings[key] = {**listings[key], **data}
        for key in reads.missing:
            listings.pop(key, None)
        unreadable = reads.failed
        # Record the offers before the first one not read; the rest waits for the budget.
        not_read = [o for o, k in key_of.items() if k in reads.deferred]
        links, __, first = before_first_deferred(links, [], not_read)
        deferred = first is not None
    if links:
        run = _record_comparison(
            run, token, adapter, links, (key_of, unkeyed), listings, unreadable, fields
        )
    if deferred:
        raise adapter.held or Held(time.time() + 10, throttled=True)
    return run


def listing_keys(adapter, links) -> tuple[dict[int, str], dict[int, NoListing]]:
    """Each link's listing by the channel's rule (the adapter's `listing_key`, as its sends
    use it): {offer pk: listing}, and {offer pk: why it names none}."""
    keys, unkeyed = {}, {}
    for link in links:
        try:
            keys[link.offer_id] = adapter.listing_key(OfferKeys.of(link))[:100]
        except NoListing as exc:
            keys[link.offer_id] = ""
            unkeyed[link.offer_id] = exc
    return keys, unkeyed


def _record_comparison(run, token, adapter, links, keys, listings, unreadable, fields):
    key_of, unkeyed = keys
    offer_ids = [link.offer_id for link in links]
    # Only sends the channel accepted: a refused one did not put our data there.
    last_sent = dict(
        SiteJournal.objects.filter(
            integration_id=run.integration_id,
            offer_id__in=offer_ids,
            status__in=[SiteJournal.Status.OK, SiteJournal.Status.WARNING],
        ).values_list("offer_id", "synced_at")
    )
    items, failures = [], []
    report = dict(run.report)
    counts = dict(report.get("fields") or {})
    # A listing with a field past a bound (bounded.py): that listing's offer fails, not the check.
    unreadable = {
        **unreadable,
        **{
            key: (200, UNBOUNDED, data[UNREADABLE_FIELD])
            for key, data in listings.items()
            if isinstance(data, dict) and data.get(UNREADABLE_FIELD)
        },
    }
    for link in links:
        key = key_of[link.offer_id]
        if link.offer_id in unkeyed:
            # A send of it would fail with this reason: it cannot be compared either.
            failures.append(failure(run, unkeyed[link.offer_id].result(link.offer_id)))
            continue
        if key in unreadable:
            status, code, message = unreadable[key]
            outcome = OfferResult(
                link.offer_id,
                ok=False,
                http_status=status,
                code=code or "",
                message=NOT_READ(reason=message),
            )
            failures.append(failure(run, outcome))
            continue
        listing = listings.get(key)
        if listing is None:
            report["missing"] += 1
            items.append(
                DriftItem(
                    check_run_id=run.pk,
                    offer_id=link.offer_id,
                    external_id=key[:100],
                    kind=DriftItem.Kind.MISSING,
                    last_sent_at=last_sent.get(link.offer_id),
                )
            )
            continue
        expected = adapter.expected_listing(
            OfferToSend(offer=link.offer, link=link, send_photos=False)
        )
        differences = compare(expected, listing, fields)
        if differences:
            report["differs"] += 1
            for name in differences:
                counts[name] = counts.get(name, 0) + 1
            items.append(
                DriftItem(
                    check_run_id=run.pk,
                    offer_id=link.offer_id,
                    external_id=key[:100],
                    kind=DriftItem.Kind.DIFFERS,
                    fields=differences,
                    last_sent_at=last_sent.get(link.offer_id),
                )
            )
    report["fields"] = counts
    named = [key_of[link.offer_id] for link in links if key_of[link.offer_id] in listings]
    with transaction.atomic():
        DriftItem.objects.bulk_create(items, batch_size=500)
        ResyncFailure.objects.upsert(failures)
        if named:
            DriftListing.objects.filter(check_run_id=run.pk, external_id__in=named).update(
                named=True
            )
        return _advance(
            run,
            token,
            cursor=links[-1].offer_id,
            processed=F("processed") + len(links),
            failed=F("failed") + len(failures),
            report=report,
        )


def named_listings(run: ResyncRun, adapter, keys: list[str]) -> set[str]:
    """Which of these listings an offer of the integration (active or not) names by the
    channel's rule. The rule names a listing by an offer's external ID, SKU or EAN: the links
    where one of those is among the keys are the candidates, and the rule says which match
    (a listing the rule reaches from a rewritten value is marked `named` when compared)."""
    keys = list(keys)
    candidates = (
        OfferChannel.objects.filter(integration_id=run.integration_id)
        .filter(Q(external_id__in=keys) | Q(offer__sku__in=keys) | Q(offer__ean__in=keys))
        .select_related("offer")
    )
    named, _unkeyed = listing_keys(adapter, candidates.iterator(chunk_size=1000))
    return set(named.values()) & set(keys)


def _report_unknown(run: ResyncRun, token: str, adapter) -> ResyncRun | None:
    """Listings no offer of the integration links to (active or not); None when done."""
    rows = list(
        DriftListing.objects.filter(check_run=run, pk__gt=run.cursor)
        .order_by("pk")
        .values_list("pk", "external_id", "data", "named")[:UNKNOWN_BATCH]
    )
    if not rows:
        return None
    # Named by an offer compared, or by any other link of the integration (an inactive one,
    # an offer added during the check).
    known = {r[1] for r in rows if r[3]}
    known |= named_listings(run, adapter, [r[1] for r in rows if not r[3]])
    items = [
        DriftItem(
            check_run_id=run.pk,
            external_id=key,
            kind=DriftItem.Kind.UNKNOWN,
            fields={
                name: {"ours": None, "theirs": shown(data[name])}
                for name in ("name", "price", "currency", "stock", "external_id")
                if name in data
            },
        )
        for _, key, data, _named in rows
        if key not in known
    ]
    report = dict(run.report)
    report["unknown"] += len(items)
    with transaction.atomic():
        DriftItem.objects.bulk_create(items, batch_size=500)
        return _advance(run, token, cursor=rows[-1][0], report=report)

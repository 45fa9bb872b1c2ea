"""Channels keep what they must only through the store the engine hands them
(shopconnect/store.py, written by engine/store.py): a note on a batch is status-checked, jobs
are one per purpose, and an adapter built to read only keeps nothing."""

import pytest

from integrations.engine.store import SUBMIT_SENT_AT, DatabaseStore, adapter_for
from integrations.models import ChannelBatch, ChannelJob, ResyncRun
from integrations.shopconnect import adapter_for as read_only_adapter_for
from integrations.shopconnect.store import NoStore

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(make_integration):
    integration = make_integration(channel="amazon", channel_settings={"seller_id": "S1"})
    run = ResyncRun.objects.create(integration=integration, status="running")
    return ChannelBatch.objects.create(
        run=run, operation="amazon:listings_feed", key="k1", group=1, offers=[1, 2]
    )


def test_a_note_is_kept_while_the_batch_is_prepared_and_never_after(batch):
    store = DatabaseStore(batch.run.integration)
    store.note(batch, feed_document_id="D1")
    assert ChannelBatch.objects.get(pk=batch.pk).changes == {"feed_document_id": "D1"}

    ChannelBatch.objects.filter(pk=batch.pk).update(status="submitted")
    store.note(batch, feed_document_id="D2")  # another task moved it on: not written
    assert ChannelBatch.objects.get(pk=batch.pk).changes == {"feed_document_id": "D1"}


def test_a_lost_submission_is_seen_by_the_other_batches_of_the_same_seller_only(
    batch, make_integration
):
    store = DatabaseStore(batch.run.integration)
    other_seller = make_integration(
        name="Other", channel="amazon", channel_settings={"seller_id": "S2"}
    )
    other_run = ResyncRun.objects.create(integration=other_seller, status="running")
    elsewhere = ChannelBatch.objects.create(
        run=other_run, operation=batch.operation, key="k2", group=1, offers=[3]
    )
    DatabaseStore(other_seller).submitting(elsewhere)
    same = ChannelBatch.objects.create(
        run=batch.run, operation=batch.operation, key="k3", group=2, offers=[4]
    )
    store.submitting(same)

    [when] = store.submits_in_doubt(batch, scope={"seller_id": "S1"})
    assert when.isoformat() == ChannelBatch.objects.get(pk=same.pk).changes[SUBMIT_SENT_AT]
    store.not_submitted(same)
    assert store.submits_in_doubt(batch, scope={"seller_id": "S1"}) == []

    ChannelBatch.objects.filter(pk=elsewhere.pk).update(changes={"feed_id": "F9"})
    assert store.refs_known(batch, "feed_id", ["F9"], scope={"seller_id": "S1"}) == set()
    assert store.refs_known(batch, "feed_id", ["F9"], scope={"seller_id": "S2"}) == {"F9"}


def test_a_channel_job_is_one_per_purpose_and_replaced_by_a_new_one(make_integration):
    store = DatabaseStore(make_integration(channel="amazon"))
    assert store.job("REPORT") is None
    store.start_job("REPORT", "R1")
    store.finish_job("REPORT")
    assert (store.job("REPORT").job_id, store.job("REPORT").finished) == ("R1", True)
    store.start_job("REPORT", "R2")
    assert (store.job("REPORT").job_id, store.job("REPORT").finished) == ("R2", False)
    assert ChannelJob.objects.count() == 1
    store.drop_job("REPORT")
    assert store.job("REPORT") is None


def test_an_adapter_built_to_read_only_keeps_nothing(make_integration):
    integration = make_integration()
    assert isinstance(read_only_adapter_for(integration).store, NoStore)
    assert isinstance(adapter_for(integration).store, DatabaseStore)
    with pytest.raises(NotImplementedError):
        NoStore().save_credentials({"access_token": "x"}, "", ("access_token",))


def test_a_note_while_reading_is_kept_while_the_batch_is_submitted_and_never_after(batch):
    store = DatabaseStore(batch.run.integration)
    store.note_reading(batch, report={"due": []})  # still prepared: not being read
    assert ChannelBatch.objects.get(pk=batch.pk).changes == {}

    ChannelBatch.objects.filter(pk=batch.pk).update(status="submitted")
    store.note_reading(batch, report={"due": ["p44"]})
    assert ChannelBatch.objects.get(pk=batch.pk).changes == {"report": {"due": ["p44"]}}

    ChannelBatch.objects.filter(pk=batch.pk).update(status="done")
    store.note_reading(batch, report={"due": []})  # finished meanwhile: not written
    assert ChannelBatch.objects.get(pk=batch.pk).changes == {"report": {"due": ["p44"]}}


def test_refs_known_without_a_scope_are_the_integrations_own(batch, make_integration):
    same_seller = make_integration(
        name="Same seller", channel="amazon", channel_settings={"seller_id": "S1"}
    )
    run = ResyncRun.objects.create(integration=same_seller, status="running")
    ChannelBatch.objects.create(
        run=run, operation=batch.operation, key="k2", group=1, offers=[3], changes={"ref": "A"}
    )
    ChannelBatch.objects.create(
        run=batch.run, operation=batch.operation, key="k3", group=2, offers=[4],
        changes={"ref": "B"},
    )  # fmt: skip
    store = DatabaseStore(batch.run.integration)

    assert store.refs_known(batch, "ref", ["A", "B"], scope=None) == {"B"}
    assert store.refs_known(batch, "ref", ["A", "B"], scope={"seller_id": "S1"}) == {"A", "B"}

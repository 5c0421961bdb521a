"""Undo a whole import in one step, on SQLite and PostgreSQL (the `store` fixture runs each
test on both): the directory is back exactly as it was before the import (updated records,
new ones gone, closures reopened, organisations it brought in gone), audited and listed;
later changes are never overwritten."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select, text

from directory.batches import UndoRefused, list_imports, undo_import
from directory.ingest.csv_import import read_services_csv
from directory.ingest.review import commit, review
from directory.model import Audit
from tests.test_directory_storage import rec

TABLES = ("service", "location", "service_at_location", "organization", "language", "contact", "schedule",
          "cost_option", "service_taxonomy")


def state(d):
    """Everything a family or steward sees: every record, and the row count of every table but the audit."""
    with d.engine.connect() as c:
        counts = {t: c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in TABLES}
        ids = sorted(c.execute(text("SELECT id FROM service")).scalars())
    return d.records(), counts, ids


def batch(source="Test council", file_name="services.csv"):
    return {"source": source, "kind": "csv", "file_name": file_name, "steward": "Sam"}


def test_undo_of_a_whole_import_restores_the_previous_state_exactly(store):
    store.upsert([rec(1), rec(2), rec(3)], "Sam (first list)", batch=batch(file_name="first.csv"))
    before = state(store)
    second = [
        rec(1, name="Stay and play 1 (Tuesdays)", organization="A new charity", phone=None, languages=["Polish"]),
        rec(2, status="defunct"),  # the new list closes it
        rec(3),  # unchanged
        rec(4), rec(5, places=[]),  # new, one with no place at all
    ]
    done = store.upsert(second, "Alex (second list)", batch=batch(file_name="second.csv") | {"steward": "Alex"})
    assert (done.new, done.updated, done.closed, done.unchanged) == (2, 2, 1, 1)
    assert state(store) != before
    listed = list_imports(store)
    assert [(b["id"], b["file_name"], b["actor"], b["new"], b["updated"], b["closed"], b["unchanged"])
            for b in listed] == [(done.batch_id, "second.csv", "Alex", 2, 2, 1, 1),
                                 (listed[1]["id"], "first.csv", "Sam", 3, 0, 0, 0)]
    assert listed[0]["at"] is not None and listed[0]["undone_at"] is None

    result = undo_import(store, done.batch_id, "Sam")
    assert result == {"removed": 2, "restored": 2, "reopened": 1, "skipped": 0}
    assert state(store) == before  # the records, their ids, and every table's rows (the new charity too)
    assert store.find("Test council", "svc-2").record.status == "active"
    undone = list_imports(store)[0]
    assert undone["undone_by"] == "Sam" and undone["undone_at"] is not None
    with store.Session() as s:
        rows = s.scalars(select(Audit).where(Audit.batch_id == done.batch_id).order_by(Audit.id)).all()
    assert [a.action for a in rows].count("undo") == 4 and len(rows) == 8  # each change and its undo, audited
    with pytest.raises(UndoRefused, match="already undone"):
        undo_import(store, done.batch_id, "Sam")
    # the first import can be undone too: the directory is empty again
    undo_import(store, listed[1]["id"], "Sam")
    assert store.count() == 0 and state(store)[1]["organization"] == 0


def test_undo_refuses_to_overwrite_later_changes(store):
    store.upsert([rec(1)], "setup")
    done = store.upsert([rec(1, name="Renamed by the import"), rec(2)], "Sam", batch=batch())
    st = store.find("Test council", "svc-2")
    store.save(dataclasses.replace(st.record, phone="01952 111111"), "Alex", st.id, st.version)  # a later edit
    after = state(store)
    with pytest.raises(UndoRefused, match=r"1 of the services this import wrote have changed since \(“Stay and "
                                          r"play 2”\)"):
        undo_import(store, done.batch_id, "Sam")
    assert state(store) == after and list_imports(store)[0]["undone_at"] is None
    # once the steward steps their edit back, the import undoes cleanly
    store.undo(st.id, "Alex")
    undo_import(store, done.batch_id, "Sam")
    assert [r.name for r in store.records()] == ["Stay and play 1"]


def test_undo_skips_a_service_already_put_back_and_keeps_service_undo_coherent(store):
    store.upsert([rec(1)], "setup")
    done = store.upsert([rec(1, name="Renamed"), rec(2)], "Sam", batch=batch())
    sid = store.find("Test council", "svc-1").id
    store.undo(sid, "Sam")  # put back by hand
    assert undo_import(store, done.batch_id, "Sam") == {"removed": 1, "restored": 0, "reopened": 0, "skipped": 1}
    assert [r.name for r in store.records()] == ["Stay and play 1"]


def test_commit_through_review_records_the_batch_and_undo_reverts_it(store, areas):
    data = (b"source_id,name,types,postcode,phone\n"
            b"a,Stay and play at the hub,stay_and_play,TF1 1AA,01952 000001\n"
            b"b,Baby massage,baby_massage,TF1 1AA,\n")
    rv = review(read_services_csv(data, "Telford & Wrekin Council", areas.postcodes), store)
    done = commit(rv, store, "Sam (Our CSV template: list.csv)", kind="csv", file_name="/tmp/x/list.csv",
                  steward="Sam")
    b = list_imports(store)[0]
    assert (b["id"], b["source"], b["kind"], b["file_name"], b["actor"], b["new"]) == (
        done.batch_id, "Telford & Wrekin Council", "csv", "list.csv", "Sam", 2)
    with store.Session() as s:
        assert set(s.scalars(select(Audit.batch_id))) == {done.batch_id}
    undo_import(store, done.batch_id, "Sam")
    assert store.count() == 0

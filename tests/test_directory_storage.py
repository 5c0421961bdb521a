"""The directory database on SQLite and PostgreSQL (the `store`/`db_url` fixtures run each
test on both): migrations, idempotent all-or-nothing imports, stewards' edits with
optimistic locking, concurrent writers, undo, audit, safe SQL, round trips."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm.exc import StaleDataError

from directory.ingest.csv_import import export_csv, read_services_csv
from directory.ingest.oruk import export_json, read_oruk
from directory.ingest.review import ImportRefused, commit, review
from directory.migrate import BASELINE, current, head, migrate
from directory.model import Audit, Base, Service
from directory.store import Directory, NotFound, Place, ServiceRecord, StaleEdit, normalised

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> Robert'); DROP TABLE service;-- 100% _"


def rec(i: int, **kw) -> ServiceRecord:
    base = dict(source="Test council", source_id=f"svc-{i}", name=f"Stay and play {i}", types=["stay_and_play"],
                places=[Place(52.70 + i / 1000, -2.52, name="Hub", address="1 Road", town="Telford",
                              postcode="TF1 1AA")],
                organization="Test council", phone="01952 000000", languages=["English"],
                last_verified=date(2025, 1, 1), min_age_months=0, max_age_months=48, is_free=True)
    base.update(kw)
    return ServiceRecord(**base)


def snapshot(d: Directory):
    with d.engine.connect() as c:
        tables = {t: c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()
                  for t in ("service", "location", "service_at_location", "audit", "organization", "language")}
    return d.records(), tables


# ---------------------------------------------------------------- schema


def test_migrations_give_the_model_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    assert current(store.engine) == head() == "0007_feeds_service_areas"
    with store.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert len(store.mapping_rows()) > 20  # the default term names seeded by 0002
    store.create()  # running again changes nothing
    assert current(store.engine) == head()


def test_a_database_at_head_is_not_migrated_again_and_an_older_one_is(db_url, monkeypatch, tmp_path):
    import directory.migrate as migrate_module

    versions = tmp_path / "versions"
    versions.mkdir()
    assert migrate_module.script_heads() == {head()}  # read from the scripts' source = Alembic's own answer
    # a branch point is two heads, and a tuple down_revision (a merge) joins them again
    for name, rev, down in [("a", "a1", "None"), ("b", "b1", '"a1"'), ("c", "c1", '"a1"')]:
        (versions / f"{name}.py").write_text(f'revision: str = "{rev}"\ndown_revision = {down}\n')
    assert migrate_module.script_heads(versions) == {"b1", "c1"}
    (versions / "d.py").write_text('revision = "d1"\ndown_revision = ("b1", "c1")\n')
    assert migrate_module.script_heads(versions) == {"d1"}

    d = Directory(db_url)
    try:
        migrate(d.engine, "0004")
        runs = []
        real = migrate_module.migrate
        monkeypatch.setattr(migrate_module, "migrate", lambda engine: runs.append(1) or real(engine))
        d.create()  # at 0004: upgraded
        assert runs == [1] and current(d.engine) == head()
        d.create()  # at head: one SELECT, no Alembic
        assert runs == [1]
    finally:
        d.engine.dispose()


def test_database_made_before_migrations_is_stamped_and_upgraded(db_url):
    d = Directory(db_url)
    try:
        migrate(d.engine, BASELINE)  # the foundation's schema...
        with d.engine.begin() as c:
            c.execute(text("DROP TABLE alembic_version"))  # ...as create_all made it, with no version table
        assert "taxonomy_map" not in inspect(d.engine).get_table_names()
        d.create()
        assert current(d.engine) == head()
        assert "taxonomy_map" in inspect(d.engine).get_table_names()
    finally:
        d.engine.dispose()


# ---------------------------------------------------------------- imports


def test_upsert_is_idempotent_and_audited(store):
    first = store.upsert([rec(1), rec(2)], "test")
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    before = snapshot(store)
    again = store.upsert([rec(1), rec(2)], "test")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot(store) == before
    changed = store.upsert([rec(1, name="Stay and play 1 (Tuesdays)"), rec(2)], "test")
    assert (changed.new, changed.updated, changed.unchanged) == (1 - 1, 1, 1)
    hist = store.history()
    assert [h["action"] for h in hist] == ["update", "create", "create"]
    assert hist[0]["name"] == "Stay and play 1 (Tuesdays)" and hist[0]["actor"] == "test"


@pytest.mark.parametrize("how", ["fail_after", "broken record"])
def test_import_failing_halfway_leaves_directory_as_it_was(store, how):
    store.upsert([rec(1), rec(2)], "setup")
    before = snapshot(store)
    batch = [rec(1, name="Renamed"), rec(3), rec(4), rec(5)]
    if how == "fail_after":
        with pytest.raises(RuntimeError, match="injected failure"):
            store.upsert(batch, "test", fail_after=3)
    else:  # a record the database refuses part-way through (an unknown type code)
        with pytest.raises(ValueError, match="unknown service type"):
            store.upsert(batch[:3] + [rec(6, types=["no_such_type"])], "test")
    assert snapshot(store) == before


def test_commit_goes_through_review_and_refuses_rejected_rows(store, areas):
    data = (b"source_id,name,types,postcode\n"
            b"a,Stay and play at the hub,stay_and_play,TF1 1AA\n"
            b"b,Baby massage,baby_massage,TF1 1AA\n"
            b"c,Broken,no_such_type,TF1 1AA\n")
    rv = review(read_services_csv(data, "Council", areas.postcodes), store)
    assert rv.counts == {"new": 2, "updated": 0, "unchanged": 0, "rejected": 1, "warnings": 0, "skipped": 0}
    with pytest.raises(ImportRefused, match="1 row has problems. Fix it"):
        commit(rv, store, "steward")
    assert store.count() == 0
    with pytest.raises(ImportRefused, match="who you are"):
        commit(rv, store, " ", skip_rejected=True)
    done = commit(rv, store, "steward", skip_rejected=True)
    assert done.new == 2 and store.count() == 2
    rv2 = review(read_services_csv(data, "Council", areas.postcodes), store)
    assert rv2.counts["unchanged"] == 2 and rv2.refusal(skip_rejected=True).startswith("Nothing to write")
    # the whole commit is one transaction: a failure part-way writes nothing
    data3 = data.replace(b"Baby massage", b"Baby massage (new day)") + b"d,New group,antenatal,TF1 1AA\n"
    rv3 = review(read_services_csv(data3, "Council", areas.postcodes), store)
    before = snapshot(store)
    with pytest.raises(RuntimeError):
        commit(rv3, store, "steward", skip_rejected=True, fail_after=2)
    assert snapshot(store) == before


def test_duplicates_of_stored_services_are_rejected(store, areas):
    store.upsert([rec(1, name="Little Acorns Stay & Play", source="Council A", source_id="17")], "setup")
    data = (b"source_id,name,types,postcode\n"
            b"99,little acorns  stay & play,stay_and_play,tf1 1aa\n"  # same name and postcode, other source
            b"17,Something else,stay_and_play,TF1 3NT\n")  # same short id, other source: a warning
    rv = review(read_services_csv(data, "Council B", areas.postcodes), store)
    errors = [(p.row, p.field) for p in rv.report.errors]
    warnings = [(p.row, p.field) for p in rv.report.warnings]
    assert errors == [(2, "name")] and warnings == [(3, "source_id")]
    assert "Duplicate of an existing service" in rv.report.errors[0].message
    assert [r.source_id for r in rv.records] == ["17"]
    # an ORUK-style UUID stored under another source is the same service: rejected
    uid = "fd596731-0bc1-6e3e-cd17-a524a52a80d6"
    store.upsert([rec(2, source="Council A", source_id=uid)], "setup")
    rv = review(read_services_csv(f"source_id,name,types,postcode\n{uid},X,antenatal,TF3 1LY\n".encode(),
                                  "Council B", areas.postcodes), store)
    assert rv.records == [] and rv.report.errors[0].field == "source_id"


def test_values_too_long_for_their_column_are_rejected_before_writing(store, areas):
    data = f"name,types,postcode,phone\n{'N' * 301},stay_and_play,TF1 1AA,{'0' * 51}\n".encode()
    rv = review(read_services_csv(data, "Council", areas.postcodes), store)
    assert rv.records == [] and {p.field for p in rv.report.errors} == {"name", "phone"}
    with pytest.raises(ValueError, match="characters long"):
        store.save(rec(1, name="N" * 301), "steward")


# ---------------------------------------------------------------- stewards' edits


def test_second_save_with_stale_version_is_refused(store):
    store.upsert([rec(1)], "setup")
    opened = store.find("Test council", "svc-1")
    a = store.save(dataclasses.replace(opened.record, phone="01952 111111"), "steward A", opened.id, opened.version)
    assert a.version == opened.version + 1
    with pytest.raises(StaleEdit, match="Someone else saved this service"):
        store.save(dataclasses.replace(opened.record, name="Renamed by B"), "steward B", opened.id, opened.version)
    now = store.get(opened.id)
    assert now.record.phone == "01952 111111" and now.record.name == "Stay and play 1"
    assert [h["actor"] for h in store.history(opened.id)] == ["steward A", "setup"]


def test_database_refuses_a_racing_stale_update(store):
    """Both sessions read version 1 before either writes: the database's version check stops the second."""
    store.upsert([rec(1)], "setup")
    sid = store.find("Test council", "svc-1").id
    s1, s2 = store.Session(), store.Session()
    try:
        a, b = s1.get(Service, sid), s2.get(Service, sid)
        assert a.version == b.version == 1
        a.name = "A's name"
        s1.commit()
        b.name = "B's name"
        with pytest.raises(StaleDataError):
            s2.commit()
    finally:
        s1.close()
        s2.close()
    assert store.get(sid).record.name == "A's name"


def test_concurrent_stewards_lose_no_update(store):
    """Two stewards add a language each, at the same time, retrying when told their copy is stale."""
    store.upsert([rec(1)], "setup")
    sid = store.find("Test council", "svc-1").id
    other = Directory(store.url)  # a second app process: its own connections
    barrier = threading.Barrier(2)
    stale_seen, errors = [], []

    def edit(d: Directory, who: str, language: str, rounds: int = 5):
        try:
            for n in range(rounds):
                for attempt in range(50):
                    st = d.get(sid)
                    if attempt == 0 and n == 0:
                        barrier.wait()  # both have read the same version
                    try:
                        d.save(dataclasses.replace(st.record, languages=st.record.languages + [f"{language} {n}"]),
                               who, sid, st.version)
                        break
                    except StaleEdit:
                        stale_seen.append(who)
                else:
                    raise AssertionError(f"{who} never got a save in")
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=edit, args=(store, "A", "Welsh")),
               threading.Thread(target=edit, args=(other, "B", "Polish"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.engine.dispose()
    assert not errors, errors
    langs = store.get(sid).record.languages
    assert sorted(langs) == sorted(["English"] + [f"Welsh {n}" for n in range(5)] + [f"Polish {n}" for n in range(5)])
    assert stale_seen  # the race really happened: someone was refused and retried
    assert store.get(sid).version == 1 + 10


def test_undo_steps_back_through_changes_and_is_audited(store):
    store.upsert([rec(1)], "setup")
    st = store.find("Test council", "svc-1")
    st = store.save(dataclasses.replace(st.record, name="Wrong name"), "steward", st.id, st.version)
    st = store.save(dataclasses.replace(st.record, phone="07000 000000"), "steward", st.id, st.version)
    assert store.undo(st.id, "steward") == "update"  # the phone
    assert store.get(st.id).record == dataclasses.replace(normalised(rec(1)), name="Wrong name")
    assert store.undo(st.id, "steward") == "update"  # then the name
    assert store.get(st.id).record == normalised(rec(1))
    assert store.undo(st.id, "steward") == "create"  # then the import that created it
    assert store.find("Test council", "svc-1") is None
    with pytest.raises(NotFound, match="left to undo"):
        store.undo(st.id, "steward")
    assert [h["action"] for h in store.history(st.id)] == ["undo"] * 3 + ["update", "update", "create"]
    # a removed service comes back with the same id and record
    store.upsert([rec(2)], "setup")
    two = store.find("Test council", "svc-2")
    store.delete(two.id, "steward")
    with pytest.raises(NotFound):
        store.get(two.id)
    assert store.undo(two.id, "steward") == "delete"
    assert store.get(two.id).record == normalised(rec(2))
    # a service a steward added by hand goes again
    created = store.save(rec(7, source="Directory stewards", source_id="new-1"), "steward")
    assert store.undo(created.id, "steward") == "create"
    assert store.find("Directory stewards", "new-1") is None
    with pytest.raises(NotFound):
        store.undo("no-such-id", "steward")
    with store.engine.connect() as c:  # no orphan locations left behind
        assert c.execute(text("SELECT count(*) FROM location")).scalar() == 1


def test_not_verified_for_a_year_and_marking_verified(store):
    old, recent, never = (rec(1, last_verified=date.today() - timedelta(days=400)),
                          rec(2, last_verified=date.today() - timedelta(days=30)), rec(3, last_verified=None))
    store.upsert([old, recent, never, rec(4, last_verified=None, status="defunct")], "setup")
    stale = store.not_verified_since()
    assert [r["name"] for r in stale] == ["Stay and play 3", "Stay and play 1"]  # never first, inactive left out
    assert store.mark_verified([r["id"] for r in stale], "steward") == 2
    assert store.not_verified_since() == []
    assert store.find("Test council", "svc-1").record.last_verified == date.today()


def test_sql_metacharacters_are_only_text(store):
    store.upsert([rec(1, name=HOSTILE, description=HOSTILE, organization=HOSTILE), rec(2)], "steward'; --")
    assert store.count() == 2
    assert store.find("Test council", "svc-1").record.name == HOSTILE
    assert [s["name"] for s in store.summaries("DROP TABLE")] == [HOSTILE]
    assert [s["name"] for s in store.summaries("100%")] == [HOSTILE]  # % and _ are literal, not wildcards
    assert [s["name"] for s in store.summaries("%")] == [HOSTILE]
    assert len(store.summaries("_")) == 1
    assert store.summaries("' OR '1'='1") == []
    assert store.history()[0]["actor"] == "steward'; --"
    assert "service" in inspect(store.engine).get_table_names()


def test_taxonomy_mapping_table_is_editable(store):
    rows = store.mapping_rows()
    rows.append({"vocabulary": "lga", "term": "Infant massage classes", "code": "baby_massage"})
    assert store.save_mappings(rows, "steward") == 1
    assert store.taxonomy_map().resolve("LGA", "infant massage CLASSES") == "baby_massage"
    with pytest.raises(ValueError, match="not one of our codes"):
        store.save_mappings(rows + [{"term": "x", "code": "nonsense"}], "steward")
    with pytest.raises(ValueError, match="listed twice"):
        store.save_mappings(rows + [{"vocabulary": "LGA", "term": "infant massage classes", "code": "ignore"}], "s")
    assert store.save_mappings(rows[-1:], "steward") == len(rows) - 1  # the others removed
    assert [r["term"] for r in store.mapping_rows()] == ["Infant massage classes"]


# ---------------------------------------------------------------- export and re-import


def test_export_then_import_changes_nothing(store, areas, seeded):
    terms = seeded.taxonomy_map()
    two_places = rec(3, places=[Place(52.65, -2.44, postcode="TF3 1LY"), Place(52.71, -2.53, name="Annex")])
    store.upsert([rec(1, name=HOSTILE, description=HOSTILE + "\nsecond line", fees="£2 a session",
                      is_free=False, referral="professional", referral_notes="Ask your midwife", pregnancy=True,
                      eligibility="Parents-to-be", schedule="Tuesdays 10:00-11:30", capacity=12.0,
                      languages=["Polish", "English"], min_age_months=6, max_age_months=59),
                  rec(2, is_free=None, fees=None, phone=None, organization=None, last_verified=None),
                  two_places, rec(4, status="temporarily closed")], "setup")
    before = snapshot(store)
    oruk = export_json(store.stored()).encode()
    rv = review(read_oruk(oruk, "ignored for own exports", areas.postcodes, terms), store)
    assert not rv.report.problems and rv.counts["unchanged"] == 4 and rv.to_write == 0
    assert commit_nothing(rv, store)
    csv_data = export_csv(store.records()).encode()
    rv = review(read_services_csv(csv_data, "ignored too", areas.postcodes), store)
    assert not rv.report.problems and rv.counts["unchanged"] == 4 and rv.to_write == 0
    assert snapshot(store) == before
    # and an export does carry every field (the round trip could have failed)
    doc = json.loads(oruk)["contents"]
    first = next(s for s in doc if s["fsm_source_id"] == "svc-1")
    assert first["name"] == HOSTILE and first["fsm_referral"] == "professional" and first["minimum_age"] == 0.5
    assert sum(len(s["service_at_locations"]) for s in doc) == 5


def commit_nothing(rv, store) -> bool:
    with pytest.raises(ImportRefused, match="Nothing to write"):
        commit(rv, store, "steward")
    return True


def test_audit_rows_hold_before_and_after(store):
    store.upsert([rec(1)], "setup")
    st = store.find("Test council", "svc-1")
    store.save(dataclasses.replace(st.record, phone="07000 000000"), "steward", st.id, st.version)
    with store.Session() as s:
        a = s.scalars(select(Audit).order_by(Audit.id.desc())).first()
        assert (a.actor, a.source, a.action, a.service_id) == ("steward", "Test council", "update", st.id)
        assert json.loads(a.before)["phone"] == "01952 000000" and json.loads(a.after)["phone"] == "07000 000000"
        assert a.at is not None


def test_fast_paths_store_and_read_what_the_orm_does(store):
    """New services are written with plain INSERTs and compared with plain SELECTs: the records
    must be exactly those the ORM path (save, record_of) writes and reads."""
    from directory.store import _stored_records

    variety = [rec(1), rec(2, organization=None, phone=None, languages=[], is_free=None, fees=None, schedule=None,
                       places=[Place(52.65, -2.44), Place(52.71, -2.53, name="Annex", postcode="TF1 3NT")]),
               rec(3, types=["antenatal", "stay_and_play"], pregnancy=True, capacity=3.5, fees="£1",
                   schedule="Mondays", referral="self", eligibility="Anyone", status="inactive")]
    store.upsert(variety, "bulk")
    for r in variety:  # the same records again, through the ORM
        store.save(dataclasses.replace(r, source="orm"), "orm")
    with store.engine.connect() as c:
        plain = _stored_records(c, {"Test council", "orm"})
    orm = {r.key: r for r in store.records()}
    assert {k: v[1] for k, v in plain.items()} == orm
    for r in variety:
        assert orm[r.key] == normalised(r)
        assert orm[("orm", r.source_id)] == dataclasses.replace(normalised(r), source="orm")
    frame = store.service_frame()
    bulk, by_orm = frame[frame.source == "Test council"], frame[frame.source == "orm"]
    cols = [c for c in frame.columns if c not in ("service_id", "location_id", "source")]
    assert (bulk[cols].sort_values("name").reset_index(drop=True).astype(str)
            .equals(by_orm[cols].sort_values("name").reset_index(drop=True).astype(str)))


def test_bulk_updates_write_what_the_orm_does(store):
    """Import updates and undo restores are written in bulk: the same records and rows as a steward's save
    (the ORM), the version up by one per write, old places gone, and a steward's edit begun before refused."""
    from directory.batches import undo_import

    first = [rec(1), rec(2, places=[Place(52.65, -2.44), Place(52.71, -2.53, name="Annex", postcode="TF1 3NT")]),
             rec(3, organization=None, phone=None, languages=[])]
    a = store.upsert(first, "bulk", batch={"source": "Test council", "kind": "csv"})
    for r in first:
        store.save(dataclasses.replace(r, source="orm"), "orm")
    opened = store.find("Test council", "svc-1")
    later = [rec(1, name="Renamed", organization="Another council", phone=None, languages=["Polish", "English"],
                 places=[Place(52.60, -2.40, name="New hub", postcode="TF2 6AA")], status="defunct"),
             rec(2, places=[Place(52.65, -2.44)], types=["antenatal", "stay_and_play"], schedule="Fridays",
                 fees="£2", is_free=False),
             rec(3, organization="Test council", phone="01952 222222")]
    b = store.upsert(later, "bulk", batch={"source": "Test council", "kind": "csv"})
    assert (b.updated, b.closed) == (3, 1)
    for r in later:
        orm = store.find("orm", r.source_id)
        store.save(dataclasses.replace(r, source="orm"), "orm", orm.id, orm.version)
    records = {r.key: r for r in store.records()}
    for r in later:
        assert records[r.key] == normalised(r)
        assert records[("orm", r.source_id)] == dataclasses.replace(normalised(r), source="orm")
        assert store.find("Test council", r.source_id).version == store.find("orm", r.source_id).version == 2
    frame = store.service_frame()
    bulk, by_orm = frame[frame.source == "Test council"], frame[frame.source == "orm"]
    cols = [c for c in frame.columns if c not in ("service_id", "location_id", "source")]
    assert (bulk[cols].sort_values(["name", "location_name"]).reset_index(drop=True).astype(str)
            .equals(by_orm[cols].sort_values(["name", "location_name"]).reset_index(drop=True).astype(str)))
    with store.engine.connect() as c:  # every replaced place went: one location per service place
        n_loc, n_sal = (c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()
                        for t in ("location", "service_at_location"))
    assert n_loc == n_sal == 2 * sum(len(r.places) for r in later)
    with pytest.raises(StaleEdit):
        store.save(dataclasses.replace(opened.record, name="Edited before the import"), "steward", opened.id,
                   opened.version)
    undo_import(store, b.batch_id, "steward")  # restores in bulk too
    records = {r.key: r for r in store.records() if r.source == "Test council"}
    assert records == {normalised(r).key: normalised(r) for r in first}
    assert store.find("Test council", "svc-1").version == 3 and a.new == 3


def test_same_key_twice_in_one_import_keeps_the_later(store):
    done = store.upsert([rec(1), rec(1, name="Later name")], "test")
    assert (done.new, done.updated) == (1, 1)
    assert [r.name for r in store.records()] == ["Later name"]
    assert store.find("Test council", "svc-1").version == 2

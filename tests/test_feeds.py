"""The feed puller against a mimic Open Referral UK API on loopback (tests/oruk_mimic.py) serving real
documents: our own ORUK 3.0 export of the seeded national directory (3,218 services, paged in the 3.0
shape, full records at /services/{id}), the two councils' real HSDS-UK 1.0 lists (a bare list and the
v1 page object), and the ways feeds fail. Every failure must leave the directory exactly as it was:
checked by counts and by the set of (id, version) of every service before and after."""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from directory import feeds, service_areas
from directory.ingest.csv_import import read_services_csv
from directory.ingest.feed_pull import Settings, pull
from directory.ingest.oruk import NO_BUILDING, export_oruk
from directory.store import Directory
from tests.mimic_paths import BRISTOL, NORTH_LINCS
from tests.no_building import rows as no_building_rows
from tests.oruk_mimic import Mimic, real_list
from tests.stewards_data import template_rows

FAST = Settings(timeout=2.0, retries=2, backoff=0.01, per_page=100, workers=8)


@pytest.fixture(scope="module")
def mimic():
    m = Mimic()
    yield m
    m.close()


@pytest.fixture(scope="module")
def national(seeded) -> list[dict]:
    """Our own ORUK 3.0 export of the seeded national directory: every service's full document."""
    return export_oruk(seeded.stored())["contents"]


@pytest.fixture(scope="module")
def postcodes(areas):
    return areas.postcodes


def fresh(tmp_path, name="dir") -> Directory:
    return Directory(f"sqlite:///{tmp_path / f'{name}.sqlite'}").create()


def snapshot(d: Directory):
    """Everything a sync could write, apart from the feed's own health row."""
    with d.engine.connect() as c:
        counts = {t: c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()
                  for t in ("service", "location", "service_area", "audit", "import_batch", "organization")}
        ids = set(c.execute(text("SELECT id, version, status FROM service")).all())
    return counts, ids, d.version()


def register(d: Directory, name: str, url: str, **kw):
    return feeds.Feeds(d).add(name, url, actor="test", **kw)


# ---------------------------------------------------------------- the national export, round trip


def test_pulling_our_national_export_into_an_empty_directory_gives_the_same_directory(seeded, national, mimic,
                                                                                     postcodes, tmp_path):
    url = mimic.add("national", national)
    d = fresh(tmp_path)
    f = register(d, "Our own national export", url)
    r = feeds.sync(d, f, postcodes, commit_it=True, actor="test", settings=FAST)
    n = len(national)
    pages = math.ceil(n / FAST.per_page)
    assert r.status == "committed", r.message
    assert (r.pull.shape, r.pull.pages, len(r.pull.items)) == ("oruk3", pages, n)
    assert r.pull.requests == pages + n  # every page once, every service's full record once
    assert r.counts["new"] == n and r.counts["rejected"] == 0 and r.written.new == n
    assert d.records() == seeded.records()  # every field of every service, places and precisions included
    assert f"{n:,} listed (oruk3, {pages} pages" in r.message
    # pulled again: nothing to write, the health line says so
    again = feeds.sync(d, feeds.Feeds(d).get(f.id), postcodes, commit_it=True, actor="test", settings=FAST)
    assert again.status == "no changes" and again.counts["unchanged"] == n and again.written is None
    assert feeds.Feeds(d).get(f.id).health.endswith(f"0 new, 0 changed, {n:,} unchanged, 0 gone, 0 rejected.")


def _slice(national, n=300) -> list[dict]:
    """n real services from across the export (nursery schools and children's centres) as a council's feed
    would carry them: without our `fsm_*` extension fields, so they are stored under the feed's name, keyed
    by their ids (the services such a feed can also close)."""
    return [{k: v for k, v in doc.items() if not k.startswith("fsm_")} for doc in copy.deepcopy(national[::7][:n])]


def test_changed_gone_and_reappeared_services_as_the_gias_sync_review_shows_them(national, mimic, postcodes,
                                                                                 tmp_path):
    docs = _slice(national)
    url = mimic.add("changes", docs)
    d = fresh(tmp_path)
    f = register(d, "A changing feed", url)
    assert feeds.sync(d, f, postcodes, commit_it=True, actor="test", settings=FAST).status == "committed"
    before = {(r.source, r.source_id): r for r in d.records()}
    # the feed drops three services, loses one's phone, and closes another for a while
    gone = docs[:3]
    rephoned = next(s for s in docs[3:] if s.get("phones"))
    paused = docs[-1]
    mimic.feeds["changes"].services = [s for s in docs if s not in gone]
    rephoned.pop("phones")
    paused["status"] = "temporarily closed"
    r = feeds.check(d, feeds.Feeds(d).get(f.id), postcodes, FAST)
    sr = r.review.sync
    key = {s["id"]: s["id"] for s in docs}
    assert {i for i, _ in sr.no_longer_listed} == {key[s["id"]] for s in gone}
    assert {(i, tuple(fields)) for i, _, fields in sr.changed} == {(key[rephoned["id"]], ("phone",)),
                                                                  (key[paused["id"]], ("status",))}
    assert len(sr.unchanged) == len(docs) - 5 and not sr.new
    assert snapshot(d)[1] == {(x.id, x.version, x.record.status) for x in d.stored()}  # a check writes nothing
    assert {(k, rec.status) for k, rec in before.items()} == {(x.record.key, x.record.status) for x in d.stored()}
    done = feeds.commit_result(d, r, "test")
    assert done.status == "committed" and (done.written.new, done.written.updated) == (0, 5)
    now = {x.key: x for x in d.records()}
    for s in gone:
        k = ("A changing feed", s["id"])
        assert now[k].status == "defunct" and now[k].closed_on == datetime.now(timezone.utc).date()
    assert now[("A changing feed", paused["id"])].status == "temporarily closed"
    assert len(now) == len(before)  # closed, kept, never deleted
    # the three come back: reappeared, shown to families again
    mimic.feeds["changes"].services = docs
    back = feeds.sync(d, feeds.Feeds(d).get(f.id), postcodes, commit_it=True, actor="test", settings=FAST)
    assert {i for i, _ in back.review.sync.reappeared} == {key[s["id"]] for s in gone}
    assert all(x.status == "active" for x in d.records() if x.source_id in {key[s["id"]] for s in gone})


# ---------------------------------------------------------------- the councils' real HSDS-UK 1.0 pages


@pytest.mark.parametrize("path, shape, kw", [(BRISTOL, "list", {}), (NORTH_LINCS, "v1", {"zero_based": True}),
                                             (NORTH_LINCS, "v1", {})])
def test_real_hsds_uk_1_0_pages_are_paged_fetched_and_every_summary_refused(path, shape, kw, mimic, postcodes,
                                                                            tmp_path):
    """The captures are list summaries (no taxonomy, no locations): every one is refused, none guessed;
    those that say they have no building are given the feed's area instead of a location error."""
    items = real_list(path)
    name = f"{path.stem}-{shape}-{len(kw)}"
    url = mimic.add(name, items, shape=shape, **kw)
    d = fresh(tmp_path)
    f = register(d, "Council feed", url, area=NORTH_LINCOLNSHIRE if "lincolnshire" in path.name else "Bristol")
    before = snapshot(d)
    r = feeds.sync(d, f, postcodes, commit_it=True, actor="test", settings=FAST)
    unique = list(dict.fromkeys(i["id"] for i in items))
    assert r.pull.shape == shape and r.pull.ids == unique
    assert r.pull.pages == math.ceil(len(items) / FAST.per_page)
    assert r.pull.repeated == len(items) - len(unique)  # Bristol lists one id twice
    assert r.pull.requests == r.pull.pages + len(unique)
    rep = r.review.report
    assert rep.rows == len(unique) and not rep.records
    assert {p.row for p in rep.errors if p.field == "taxonomy"} == set(range(1, len(unique) + 1))
    first = {i["id"]: i for i in reversed(items)}  # the first listing of each id
    no_building = {n for n, sid in enumerate(unique, start=1)
                   if first[sid]["attending_type"].strip().lower() in NO_BUILDING}
    assert no_building  # Phone, Online, Home visit: 10 in Bristol, 22 in North Lincolnshire
    assert {p.row for p in rep.problems if p.field == "service_areas"} == no_building
    assert {p.row for p in rep.errors if p.field == "location"} == set(range(1, len(unique) + 1)) - no_building
    assert r.status == "no changes" and snapshot(d) == before


# ---------------------------------------------------------------- failures leave the directory as it was


FAILURES = [
    ("timeout", {"delay": 1.5}, "no answer within 0.5 s after 2 tries"),
    ("500", {}, "HTTP 500"),
    ("malformed", {}, "the answer is not JSON"),
    ("loop", {}, "asked for page 2, the feed answered page 1: it loops"),
    ("repeat", {}, "page 2 lists only services of earlier pages: the feed loops"),
    ("endless", {}, "more than 6 pages (the page cap)"),
    ("detail500", {}, "HTTP 500 Internal Server Error after 2 tries"),
]


@pytest.mark.parametrize("fail, kw, said", FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failing_feed_writes_nothing_and_says_why(fail, kw, said, national, mimic, postcodes, tmp_path):
    docs = _slice(national, 250)
    good = mimic.add(f"good-{fail}", docs)
    d = fresh(tmp_path)
    f = register(d, "Feed that fails", good)
    assert feeds.sync(d, f, postcodes, commit_it=True, actor="test", settings=FAST).status == "committed"
    # the feed now answers with one of its failures, and drops its first 50 services (which must not close)
    mimic.add(f"bad-{fail}", docs[50:], fail=fail, **kw)
    with d.Session.begin() as s:
        s.execute(text("UPDATE feed SET base_url = :u WHERE id = :i"), {"u": mimic.url(f"bad-{fail}"), "i": f.id})
    before = snapshot(d)
    settings = Settings(timeout=0.5, retries=2, backoff=0.01, max_pages=6, per_page=50, workers=4)
    r = feeds.sync(d, feeds.Feeds(d).get(f.id), postcodes, commit_it=True, actor="test", settings=settings)
    assert r.status == "failed" and said in r.error, r.error
    assert snapshot(d) == before  # counts, every (id, version, status), the directory version
    info = feeds.Feeds(d).get(f.id)
    assert info.last_status == "failed" and info.failures == 1 and said in info.health
    assert "Nothing was written; last good pull" in info.health


def test_retries_with_backoff_ride_out_a_flaky_feed(national, mimic, postcodes, tmp_path):
    docs = _slice(national, 120)
    url = mimic.add("flaky", docs, fail="flaky", flaky=2)
    waits = []
    p = pull(url, Settings(retries=3, backoff=0.2, per_page=100), sleep=waits.append)
    assert len(p.items) == len(docs) and len(p.documents) == len(docs)
    assert waits == [0.2, 0.4]  # two HTTP 500s, then backoff doubling
    assert p.requests == 2 + 2 + len(docs)


def test_a_feed_that_suddenly_lists_nothing_is_not_taken_as_every_service_gone(national, mimic, postcodes,
                                                                               tmp_path):
    d = fresh(tmp_path)
    d.upsert(read_services_csv(template_rows(no_building_rows()), "Emptying feed", postcodes).records, "test")
    url = mimic.add("emptied", [])
    f = register(d, "Emptying feed", url)
    before = snapshot(d)
    r = feeds.sync(d, f, postcodes, commit_it=True, actor="test", settings=FAST)
    assert r.status == "failed" and "lists no services at all" in r.error and snapshot(d) == before


def test_a_pull_closing_most_of_a_feed_is_held_for_a_steward(national, mimic, postcodes, tmp_path):
    docs = _slice(national, 40)
    url = mimic.add("shrinking", docs)
    d = fresh(tmp_path)
    f = register(d, "Shrinking feed", url)
    feeds.sync(d, f, postcodes, commit_it=True, actor="test", settings=FAST)
    mimic.feeds["shrinking"].services = docs[:10]
    before = snapshot(d)
    r = feeds.sync(d, feeds.Feeds(d).get(f.id), postcodes, commit_it=True, actor="test", settings=FAST)
    assert r.status == "held" and "would close 30 of the 40" in r.message and snapshot(d) == before
    forced = feeds.commit_result(d, r, "test", force=True)
    assert forced.status == "committed" and sum(x.status == "defunct" for x in d.records()) == 30


# ---------------------------------------------------------------- modified_after


def _dated(docs, when: str) -> list[dict]:
    return [dict(s, last_modified=when) for s in docs]


def test_modified_after_pulls_only_what_changed_and_a_feed_that_ignores_it_is_pulled_in_full(national, mimic,
                                                                                             postcodes, tmp_path):
    docs = _dated(_slice(national, 200), "2025-01-01T00:00:00Z")
    url = mimic.add("since", docs, honours_modified_after=True)
    d = fresh(tmp_path)
    f = register(d, "Feed with modified_after", url, modified_after=True)
    first = feeds.sync(d, f, postcodes, commit_it=True, actor="test", settings=FAST)
    assert first.status == "committed" and not first.incremental and first.pull.modified_after is None
    # two services change after the pull (closed for a while); the next pull asks only for what changed
    later = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for s in docs[5:7]:
        s["status"] = "temporarily closed"
        s["last_modified"] = later
    info = feeds.Feeds(d).get(f.id)
    r = feeds.sync(d, info, postcodes, commit_it=True, actor="test", settings=FAST)
    assert r.incremental and r.pull.modified_after == info.committed_from - feeds.OVERLAP
    assert len(r.pull.items) == 2 and r.pull.requests == 1 + 2
    assert r.counts["changed"] == 2 and r.counts["gone"] == 0  # the 198 not listed are kept as they are
    assert sum(x.status == "defunct" for x in d.records()) == 0 and len(d.records()) == 200
    # --full, or a full pull older than FULL_EVERY, asks for everything
    assert not feeds.check(d, feeds.Feeds(d).get(f.id), postcodes, FAST, full=True).incremental
    # a feed registered as honouring it that doesn't: taken as a full pull, with a note
    mimic.feeds["since"].honours_modified_after = False
    r = feeds.check(d, feeds.Feeds(d).get(f.id), postcodes, FAST)
    assert not r.incremental and len(r.pull.items) == 200
    assert any("ignores modified_after" in n for n in r.review.report.notes)


# ---------------------------------------------------------------- services without a building, in a feed


NORTH_LINCOLNSHIRE = "E06000013"


def test_services_without_a_building_round_trip_through_a_feed(mimic, postcodes, tmp_path):
    src = fresh(tmp_path, "src")
    src.upsert(read_services_csv(template_rows(no_building_rows()), "A council list", postcodes).records, "test")
    url = mimic.add("no-building", export_oruk(src.stored())["contents"])
    d = fresh(tmp_path)
    r = feeds.sync(d, register(d, "Their export", url), postcodes, commit_it=True, actor="test", settings=FAST)
    assert r.status == "committed" and d.records() == src.records()
    assert {tuple(a) for a in d.area_service_frame().service_areas} == {(service_areas.ENGLAND,), ("E06000025",)}


def test_a_feeds_services_without_a_building_get_its_area_when_they_state_none(mimic, postcodes, tmp_path,
                                                                               seeded):
    """The real North Lincolnshire summary of FamilyLine (attending type Phone), with a taxonomy term the
    steward's mapping knows: the feed is registered for North Lincolnshire, so that is its area."""
    item = next(i for i in real_list(NORTH_LINCS) if i["name"] == "FamilyLine")
    doc = dict(item, attributes=[{"id": "t", "taxonomy_term": {"term": "parenting_programme",
                                                               "taxonomy": "family-support-map"}}])
    url = mimic.add("one-phone-line", [doc])
    d = fresh(tmp_path)
    f = register(d, "North Lincolnshire", url, area="North Lincolnshire")
    r = feeds.sync(d, f, postcodes, commit_it=True, actor="test", settings=FAST)
    assert r.status == "committed", r.message
    assert [(x.name, x.places, x.service_areas) for x in d.records()] == [("FamilyLine", [], [NORTH_LINCOLNSHIRE])]
    assert [p.field for p in r.review.report.warnings] == ["service_areas"]


# ---------------------------------------------------------------- the command line


def test_the_feeds_command(national, mimic, tmp_path, monkeypatch, capsys, seeded):
    from directory.__main__ import main
    from tests.conftest import copy_of

    url = copy_of(seeded, tmp_path / "cli.sqlite")
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    good = mimic.add("cli", national[::7][:150])  # our own export: stored under its own sources, as seeded
    bad = mimic.add("cli-bad", _slice(national, 150), fail="500", fail_page=1)
    assert main(["feeds", "add", "Council A", good, "--area", "Bristol"]) == 0
    assert main(["feeds", "add", "Council B", bad]) == 0
    assert main(["feeds", "add", "Council C", "ftp://nowhere"]) == 1
    assert "is not a web address" in capsys.readouterr().err
    assert main(["feeds", "sync", "Council A"]) == 0  # a dry run: the seeded directory holds them already
    out = capsys.readouterr().out
    assert "Council A: " in out and "checked, not committed: 150 listed" in out and "150 unchanged" in out
    assert "dry run: add --commit to write" in out
    before = snapshot(Directory(url))
    assert main(["feeds", "sync", "--all", "--commit", "--retries", "1", "--timeout", "2"]) == 1  # B failed
    out = capsys.readouterr().out
    assert "Council A: " in out and "nothing to write" in out
    assert "Council B: " in out and "FAILED: /services page 1" in out and "HTTP 500" in out
    assert snapshot(Directory(url)) == before
    assert main(["feeds", "list"]) == 0
    listing = capsys.readouterr().out
    assert "Council A\t" in listing and "(area E06000023)" in listing and "FAILED" in listing
    assert main(["feeds", "disable", "Council B"]) == 0 and main(["feeds", "sync", "--all"]) == 0
    capsys.readouterr()
    assert main(["feeds", "sync"]) == 2

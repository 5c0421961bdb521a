"""Families' pages in Streamlit's AppTest: a service's own page and its "Is something wrong here?",
the shortlist link round trip, and the perinatal stage filter on real children's centres."""

import csv
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from directory import reports, shortlist, taxonomy
from directory.ingest.gias_cc import CHILDRENS_CENTRES_SOURCE
from directory.nearest import Filters, filter_services
from directory.store import Directory, NotFound
from tests.apptest import open_page

FIND, SERVICE, SHORTLIST = "../views/find_support.py", "../views/service.py", "../views/shortlist.py"
CC_FILE = "edubaseallchildrencentre20260821.csv"


def run(page, params=None) -> AppTest:
    return open_page(page, params)


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture()
def own_directory(tmp_path, monkeypatch, seeded):
    """A copy of the seeded directory (the 378 GIAS nursery schools) that tests may write to."""
    url = f"sqlite:///{tmp_path / 'families.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    d = Directory(url).create()
    d.upsert(seeded.records(), actor="test copy")
    return d


def oakengates(d: Directory) -> str:
    f = d.service_frame()
    return f.service_id[f.name == "Oakengates Nursery School"].iloc[0]


def test_service_page_shows_every_detail_and_a_map(seeded):
    sid = oakengates(seeded)
    at = run(SERVICE, {"id": sid})
    assert at.title[0].value == "Oakengates Nursery School"
    body = markdown(at)
    for part in ("**Type:** Maintained nursery school / early education", "**Last verified:** 24 May 2025",
                 "**Source:** DfE GIAS", "**Who it is for:** Baby under 1, 1 to 2 years, 2 to 4 years",
                 "**Directions:** [Directions \\(opens Google Maps\\)](https://www.google.com/maps/dir/?api=1&destination=52.694647"):
        assert part in body, part
    assert len(at.get("component_instance")) == 1  # the small map
    assert at.code[0].value == f"service?id={sid}"  # the address to send (relative without a browser)
    at.checkbox(key="sl_service_page").check().run()  # shortlisted from its own page too
    assert f"to print or send](shortlist?ids={sid})" in markdown(at)


def test_service_page_for_an_unknown_id(seeded):
    at = run(SERVICE, {"id": "0000-not-here"})
    assert at.title[0].value == "Service not found" and "may have closed" in at.warning[0].value


def test_is_something_wrong_records_a_clean_capped_message(own_directory):
    sid = oakengates(own_directory)
    at = run(SERVICE, {"id": sid})
    at.button[0].click().run()  # an empty message is refused with a reason
    assert "Please type what is wrong" in at.error[0].value
    hostile = "Phone\x00 number\u202e changed <script>alert(1)</script>\n\n\n\nNow 01952 " + "x" * 600
    at.text_area(key="sv_report_text").input(hostile[:500])  # the box stops at 500 characters
    at.button[0].click().run()
    assert not at.exception
    assert "Your message is with the directory's stewards" in at.success[0].value
    got = reports.open_reports(own_directory)
    assert len(got) == 1 and got[0]["service id"] == sid and got[0]["service"] == "Oakengates Nursery School"
    msg = got[0]["message"]
    assert "\x00" not in msg and "\u202e" not in msg and "\n\n\n" not in msg and len(msg) <= reports.MAX_CHARS
    assert msg.startswith("Phone number changed <script>alert(1)</script>\n\nNow 01952 xxx")  # text, shown as text
    # the Manage page lists it to a signed-in steward whose scope has the service (plain text in a table),
    # who marks it dealt with; a steward of another authority does not see it
    from tests.signin import add_steward, signed_in

    add_steward("sam@telford.example", authorities=["E06000020"], url=own_directory.url)  # Telford and Wrekin
    add_steward("kim@elsewhere.example", authorities=["E08000025"], url=own_directory.url)  # Birmingham
    other = signed_in(AppTest.from_file("../views/manage_directory.py", default_timeout=120),
                      "kim@elsewhere.example").run()
    assert not other.exception and any(s.value == "Reports from families and professionals: 0" for s in other.subheader)
    manage = signed_in(AppTest.from_file("../views/manage_directory.py", default_timeout=120),
                       "sam@telford.example").run()
    assert not manage.exception, [e.value for e in manage.exception]
    assert any(s.value == "Reports from families and professionals: 1" for s in manage.subheader)
    manage.multiselect(key="md_reports_done").set_value([got[0]["report"]]).run()
    manage.button(key="md_reports_go").click().run()
    assert not reports.open_reports(own_directory)
    with own_directory.engine.connect() as c:
        assert c.exec_driver_sql("select resolved_by from service_report").scalar() == "sam@telford.example"
    # the service going away takes its reports with it
    own_directory.delete(sid, actor="test")
    with own_directory.engine.connect() as c:
        assert c.exec_driver_sql("select count(*) from service_report").scalar() == 0


def test_clean_message():
    assert reports.clean_message("a\u200b\u2066b\r\nc\t d\x07") == ("ab\nc d", 3)
    assert reports.clean_message("y" * 900)[0] == "y" * reports.MAX_CHARS
    with pytest.raises(reports.ReportRefused):
        reports.report_problem(None, "x", "\x00\u202e  ")  # nothing left: refused before the database


def test_reports_per_service_are_bounded(own_directory):
    sid = oakengates(own_directory)
    for i in range(reports.MAX_OPEN_PER_SERVICE):
        reports.report_problem(own_directory, sid, f"report {i}")
    with pytest.raises(reports.ReportRefused, match="already have several reports"):
        reports.report_problem(own_directory, sid, "one more")


def test_shortlist_link_round_trip(seeded, areas):
    at = run(FIND, {"q": "TF1 1AA", "radius": "10", "types": "early_education"})  # the nursery schools
    assert at.caption[1].value.startswith("Tick “Shortlist”")
    boxes = [c for c in at.checkbox if c.label.startswith("Shortlist ")]
    assert [c.label for c in boxes] == ["Shortlist Oakengates Nursery School", "Shortlist Madeley Nursery School"]
    boxes[1].check().run()
    boxes = [c for c in at.checkbox if c.label.startswith("Shortlist ")]
    boxes[0].check().run()
    f = seeded.service_frame().set_index("name")
    chosen = [f.service_id["Madeley Nursery School"], f.service_id["Oakengates Nursery School"]]
    expected = f"shortlist?ids={chosen[0]},{chosen[1]}"
    assert f"[Open the shortlist to print or send]({expected})" in markdown(at)
    assert "TF1" not in expected  # no postcode unless the person keeps it in
    # keeping the search in: a second link with q
    at.checkbox(key="fs_sl_keep_q").check().run()
    assert f"({expected}&q=TF1+1AA)" in markdown(at)
    assert "types" not in expected  # only the services
    # the link opens the same services, in the order chosen, with every detail and no map
    params = dict(re.findall(r"(\w+)=([^&]+)", expected.split("?", 1)[1]))
    sl = run(SHORTLIST, params)
    assert [s.value for s in sl.subheader] == ["1\\. Madeley Nursery School".replace("\\", ""),
                                               "2. Oakengates Nursery School"] or \
        [s.value for s in sl.subheader] == ["1. Madeley Nursery School", "2. Oakengates Nursery School"]
    assert markdown(sl).count("**Last verified:** 24 May 2025") == 2
    assert not sl.get("component_instance") or all("folium" not in str(c.proto) for c in sl.get("component_instance"))
    assert dict(sl.query_params) == {"ids": f"{chosen[0]},{chosen[1]}"}
    # with the place kept in: distances from it, the same as the find page's (brute force here)
    sl = run(SHORTLIST, {**params, "q": "TF1 1AA"})
    heads = [s.value for s in sl.subheader]
    from directory.geocode import parse_full_postcode
    _, x, y, *_ = areas.postcodes.postcode(parse_full_postcode("TF1 1AA"))
    d = [np.hypot(f.x[n] - x, f.y[n] - y) / 1000 for n in ("Madeley Nursery School", "Oakengates Nursery School")]
    assert heads[0].startswith("1. Madeley Nursery School · ") and "km" in heads[0]
    got = [float(re.search(r"· ([\d.]+) km", h)[1]) for h in heads]
    assert got == pytest.approx(d, abs=0.051)
    assert "4.4 km" in heads[1]


def test_shortlist_drops_unknown_and_repeated_ids():
    ids, q = shortlist.decode({"ids": "a1,,a1,<script>,b2", "q": "  "})
    assert ids == ["a1", "b2"] and q is None
    assert shortlist.link(["a1", "b2"], "TF1 1AA") == "shortlist?ids=a1,b2&q=TF1+1AA"


def test_empty_shortlist_says_how_to_make_one(seeded):
    at = run(SHORTLIST, {"ids": "gone-1,gone-2"})
    assert "No services on this shortlist" in at.info[0].value


@pytest.fixture()
def with_childrens_centres(own_directory):
    """The seeded directory: DfE's nursery schools and every open children's centre and linked site of the
    newest GIAS extract (issue 9b), which carry pregnancy and 0 to 59 months."""
    f = own_directory.service_frame()
    cc = f[f.source == CHILDRENS_CENTRES_SOURCE]
    assert len(cc) > 2000 and cc.pregnancy.all() and (cc.min_age_months == 0).all() and (cc.max_age_months == 59).all()
    return own_directory


def test_stage_filter_and_entries_use_the_same_words(with_childrens_centres, areas):
    frame = with_childrens_centres.service_frame()
    labels = [s.label for s in taxonomy.STAGES]
    assert labels == ["Pregnant", "Baby under 1", "1 to 2 years", "2 to 4 years"]
    at = run(FIND, {"q": "TF1 1AA", "radius": "5"})
    stage_box = at.selectbox(key="fs_stage")
    assert stage_box.options == ["Any age or stage"] + labels
    # every stage: the listed services are the ones whose entry names that stage, checked by brute force
    from directory.geocode import parse_full_postcode
    _, x, y, *_ = areas.postcodes.postcode(parse_full_postcode("TF1 1AA"))
    near = frame[np.hypot(frame.x - x, frame.y - y) <= 5000]
    by_stage = {}
    for stage in taxonomy.STAGES:
        at.selectbox(key="fs_stage").set_value(stage.code).run()
        assert at.query_params["stage"] in (stage.code, [stage.code])
        entries = [e for e in at.expander if e.label not in ("Filters", "Share this search")]
        want = {r.name for r in near.itertuples()
                if stage.label in taxonomy.who_for(r.min_age_months, r.max_age_months, r.pregnancy, r.types)}
        shown = {html.unescape(re.search(r"\*\*(.+?)\*\*", e.label)[1].replace("\\", "")) for e in entries}
        assert shown == want, stage.code
        by_stage[stage.code] = shown
        for e in entries:
            who = re.search(r"\*\*Who it is for:\*\* ([^\n]*)", e.markdown[0].value)[1].replace("\\", "")
            assert stage.label in who
    # children's centres are for pregnancy; nursery schools (no ages in this GIAS extract) are for children
    centres = set(near.name[near.source == CHILDRENS_CENTRES_SOURCE])
    assert centres and by_stage["pregnant"] == centres
    assert by_stage["2to4"] == set(near.name) and by_stage["2to4"] - centres


def test_vectorised_filter_agrees_with_each_entry(with_childrens_centres):
    f = with_childrens_centres.service_frame()
    extra = f.head(6).copy()  # the implied-age rules, on real rows with their ages and types changed
    extra["service_id"] = [f"x{i}" for i in range(6)]
    extra["types"] = [["antenatal"], ["perinatal_mental_health"], ["stay_and_play"], ["baby_massage"],
                      ["stay_and_play"], ["antenatal", "stay_and_play"]]
    extra["pregnancy"] = [False] * 6
    extra["min_age_months"] = pd.array([None, None, None, 0, 24, None], dtype="Int64")
    extra["max_age_months"] = pd.array([None, None, None, 11, 47, None], dtype="Int64")
    allf = pd.concat([f, extra], ignore_index=True)
    for stage in taxonomy.STAGES:
        got = set(filter_services(allf, Filters(stage=stage.code)).service_id)
        want = {r.service_id for r in allf.itertuples()
                if stage in taxonomy.stages_of(r.min_age_months, r.max_age_months, r.pregnancy, r.types)}
        assert got == want, stage.code
    assert {s.code for s in taxonomy.stages_of(None, None, False, ["antenatal"])} == {"pregnant"}
    assert {s.code for s in taxonomy.stages_of(None, None, False, ["perinatal_mental_health"])} == {"pregnant",
                                                                                                   "under1"}
    assert {s.code for s in taxonomy.stages_of(24, 47, False, ["stay_and_play"])} == {"2to4"}


def test_old_stage_codes_in_shared_links_still_work():
    assert [taxonomy.stage_code(c) for c in ("pregnancy", "baby", "toddler", "preschool", "2to4", "nonsense")] == \
        ["pregnant", "under1", "1to2", "2to4", "2to4", None]


def test_reports_are_stored_with_the_service_on_sqlite_and_postgresql(store, seeded):
    store.upsert([r for r in seeded.records() if r.name == "Oakengates Nursery School"], actor="test")
    sid = oakengates(store)
    first = reports.report_problem(store, sid, "Closed on Fridays now")
    second = reports.report_problem(store, sid, "O'Brien; DROP TABLE service_report; --")  # only text
    got = reports.open_reports(store)
    assert [r["report"] for r in got] == [second, first]  # newest first
    assert {r["message"] for r in got} == {"Closed on Fridays now", "O'Brien; DROP TABLE service_report; --"}
    assert reports.resolve(store, [first], "sam@example.org") == 1
    assert reports.resolve(store, [first], "sam@example.org") == 0  # already dealt with
    assert [r["report"] for r in reports.open_reports(store)] == [second]
    with pytest.raises(NotFound):
        reports.report_problem(store, "no-such-service", "hello")
    store.delete(sid, actor="test")
    with store.engine.connect() as c:
        assert c.exec_driver_sql("select count(*) from service_report").scalar() == 0

"""The Find support page in Streamlit's AppTest: search, filters, URL state and the messages families see."""

from streamlit.testing.v1 import AppTest

from directory.store import Directory, Place, ServiceRecord
from tests.apptest import checked, open_page

PAGE = "../views/find_support.py"


def run(params=None, **inputs) -> AppTest:
    at = open_page(PAGE, params)
    if "q" in inputs:
        at.text_input(key="fs_q").input(inputs["q"])
        checked(at)
    return at


def labels(at):
    return [e.label for e in at.expander if e.label not in ("Filters", "Share this search")]


def test_start_page_invites_a_search(seeded):
    at = run()
    assert f"The directory holds {len(seeded.service_frame()):,} service locations" in at.info[0].value


def test_postcode_search_lists_nearest_with_distances(seeded):
    at = run({"types": "early_education"}, q="tf1 1aa")  # the nursery schools (children's centres are nearer)
    assert at.subheader[0].value == "Nothing within 2 km of TF1 1AA"
    assert "nearest 3 are listed below" in at.info[0].value
    first = labels(at)[0]
    assert "Oakengates Nursery School" in first and "4.4 km" in first and "about 56 min walk" in first
    # the list carries everything (the map is never the only way to read results)
    body = at.expander[1].markdown[0].value
    for part in ("**Type:** Maintained nursery school / early education", "**Last verified:** 24 May 2025",
                 "**How to get referred:** Self\\-referral", "google.com/maps/dir/?api=1&destination=52.694647"):
        assert part in body
    assert "4.8 km/h" in at.caption[0].value
    assert dict(at.query_params) == {"q": "tf1 1aa", "types": "early_education"}


def test_the_url_restores_the_whole_search(seeded):
    # a link shared before the perinatal stages: its "preschool" maps to "2 to 4 years" and the link is updated
    at = run({"q": "TF1 1AA", "radius": "10", "types": "early_education", "self": "1", "stage": "preschool"})
    assert at.text_input(key="fs_q").value == "TF1 1AA"
    assert at.select_slider(key="fs_radius").value == 10.0
    assert at.multiselect(key="fs_types").value == ["early_education"]
    assert at.checkbox(key="fs_self").value is True
    assert at.selectbox(key="fs_stage").value == "2to4"
    assert at.subheader[0].value == "2 within 10 km of TF1 1AA"
    assert [l.split("·")[0] for l in labels(at)] == ["1\\. **Oakengates Nursery School** ",
                                                    "2\\. **Madeley Nursery School** "]
    assert dict(at.query_params) == {"q": "TF1 1AA", "radius": "10", "types": "early_education", "self": "1",
                                     "stage": "2to4"}
    # changing a filter updates the link
    at.select_slider(key="fs_radius").set_value(5.0).run()
    assert at.query_params["radius"] in ("5", ["5"])
    assert at.subheader[0].value == "1 within 5 km of TF1 1AA"


def test_malformed_postcode_says_which_part(seeded):
    at = run(q="TF1 1CI")
    assert "“1CI”, has CI" in at.error[0].value
    assert not labels(at)


def test_postcode_in_no_source(seeded):
    # a real sector, but no such unit in Code-Point Open or the NSPL: mistyped, new or retired
    at = run(q="TF1 1ZZ")
    note = at.info[0].value
    assert "couldn't find TF1 1ZZ in the postcode directory" in note and "search by town or ward" in note
    assert "TF1 1 (postcode sector)" in at.subheader[0].value
    assert labels(at)  # results around the sector are still shown


def test_ambiguous_place_asks_which(seeded):
    at = run(q="Central")
    assert "places called “Central”" in at.warning[0].value
    radio = at.radio(key="fs_pick")
    choice = next(o for o in radio.options if "Middlesbrough" in o)
    radio.set_value(choice).run()
    assert "Central, Middlesbrough (ward)" in at.subheader[0].value
    assert at.query_params["at"] in ("E05009857", ["E05009857"])  # the ward code, so the link is exact


def test_filters_with_no_match_anywhere(seeded):
    at = run({"q": "TF1 1AA", "free": "1"})
    assert "No service in the directory matches these filters anywhere" in at.warning[0].value
    at = run({"q": "TF1 1AA", "types": "childrens_centre", "self": "1"})  # GIAS states no referral route
    assert "No service in the directory matches these filters anywhere" in at.warning[0].value


def test_directory_text_is_escaped_on_the_page(tmp_path, monkeypatch, areas):
    # a steward's typo or a hostile feed: the name must show as text, in the list label and body
    url = f"sqlite:///{tmp_path / 'evil.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    d = Directory(url).create()
    d.upsert([ServiceRecord(source="test", source_id="1", name="<script>alert(1)</script>", types=["stay_and_play"],
                            places=[Place(latitude=52.6998, longitude=-2.5198, address="<b>bold</b>")])], actor="t")
    at = run(q="TF1 1AA")
    label = labels(at)[0]
    assert "<script>" not in label and "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in label
    body = [e for e in at.expander if "script" in e.label][0].markdown[0].value
    assert "<b>" not in body and "&lt;b&gt;bold&lt;/b&gt;" in body

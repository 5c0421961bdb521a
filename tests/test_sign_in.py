"""Who may change the directory: the stewards list, scopes, and the app's pages for anonymous
visitors, unlisted accounts, stewards and admins (AppTest; the browser test with a real OIDC
provider is tests/test_sign_in_browser.py)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from streamlit.testing.v1 import AppTest

from directory import stewards
from directory.__main__ import EXIT_OK, EXIT_PROBLEMS, main
from directory.ingest.csv_import import read_services_csv
from directory.ingest.review import review
from directory.model import Steward
from directory.store import Directory, Place, ServiceRecord
from tests.signin import TELFORD, add_steward, signed_in
from tests.stewards_data import TF1_1AA, template_rows

DASHBOARD = "../dashboard.py"
MANAGE = "../views/manage_directory.py"
SIGN_IN = "../views/sign_in.py"
#: Birmingham Council House, a real point in Birmingham (E08000025), outside Telford's scope
BIRMINGHAM = (52.479605, -1.903796)
CAMDEN_SCHOOL = "Thomas Coram Centre"  # a GIAS maintained nursery school in Camden (seeded)


@pytest.fixture()
def app_db(tmp_path, monkeypatch, areas):
    url = f"sqlite:///{tmp_path / 'signin.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    return url


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def pages(at: AppTest) -> set[str]:
    return {str(info.get("script_path", "")).rsplit("/", 1)[-1] for info in at._registered_pages.values()}


def plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def write_controls(at: AppTest) -> int:
    return len(at.button) + len(at.file_uploader) + len(at.text_input) + len(at.get("download_button"))


# ---------------------------------------------------------------- the decision (pure)


def test_may_change():
    sam = stewards.Account("sam@telford.gov.uk", "Sam", authorities=frozenset({TELFORD}),
                           sources=frozenset({"Telford & Wrekin Council"}))
    names = {TELFORD: "Telford and Wrekin", "E08000025": "Birmingham"}
    assert stewards.may_change(sam, "DfE GIAS", {TELFORD}) is None
    assert stewards.may_change(sam, "Telford & Wrekin Council", {"E08000025"}) is None  # their source
    no = stewards.may_change(sam, "DfE GIAS", {TELFORD, "E08000025"}, names, "“Hub”")
    assert no.startswith("“Hub” is outside your scope: it is in Birmingham (E08000025)")
    assert "Telford and Wrekin (E06000020)" in no
    assert stewards.may_change(sam, "DfE GIAS", {None}) is not None  # outside England's authorities
    assert stewards.may_change(sam, "DfE GIAS", set()) is not None
    admin = stewards.Account("ana@x.org", "Ana", role="admin")
    assert stewards.may_change(admin, "anything", {"E08000025"}) is None
    off = stewards.Account("old@x.org", "Old", authorities=frozenset({TELFORD}), enabled=False)
    assert stewards.may_change(off, "DfE GIAS", {TELFORD}) is not None
    assert stewards.may_change(None, "DfE GIAS", {TELFORD}) is not None


def test_idle_expiry():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    a = stewards.Account("a@x.org", "A", last_seen_at=now - timedelta(minutes=31))
    assert stewards.idle_expired(a, now - timedelta(hours=3), 30, now)
    assert not stewards.idle_expired(a, now - timedelta(minutes=5), 30, now)  # signed in again since
    assert not stewards.idle_expired(stewards.Account("a@x.org", "A", last_seen_at=now - timedelta(minutes=29)),
                                     None, 30, now)


def test_guard_refuses_out_of_scope_writes_before_and_after(app_db, areas):
    d = Directory(app_db).create()
    sam = add_steward("sam@telford.gov.uk", authorities=[TELFORD])
    guard = stewards.Guard(sam, d, areas)
    here = ServiceRecord("Directory stewards", "t1", "Hadley Stay and Play", ["stay_and_play"],
                         [Place(TF1_1AA[1], TF1_1AA[2], postcode=TF1_1AA[0])])
    saved = guard.save(here)
    assert d.history(saved.id)[0]["actor"] == "sam@telford.gov.uk"
    moved = ServiceRecord(**{**here.__dict__, "places": [Place(*BIRMINGHAM)]})
    with pytest.raises(stewards.OutOfScope, match="outside your scope: it is in Birmingham"):
        guard.save(moved, saved.id, saved.version)  # can't move a service out of scope
    there = ServiceRecord("Directory stewards", "b1", "Birmingham Hub", ["childrens_centre"], [Place(*BIRMINGHAM)])
    with pytest.raises(stewards.OutOfScope):
        guard.save(there)
    other = Directory(app_db).save(there, "operator")  # an operator (command line) adds it
    with pytest.raises(stewards.OutOfScope):
        guard.delete(other.id)
    with pytest.raises(stewards.OutOfScope):
        guard.undo(other.id)
    with pytest.raises(stewards.OutOfScope, match="Only admins"):
        guard.save_mappings([])
    assert d.get(other.id).record.name == "Birmingham Hub" and d.get(saved.id).record.places[0].postcode == "TF1 1AA"


# ---------------------------------------------------------------- pages


def test_anonymous_visitor_sees_only_public_pages(app_db):
    at = ok(signed_in(AppTest.from_file(DASHBOARD, default_timeout=120), None).run())
    assert "manage_directory.py" not in pages(at) and "sign_in.py" in pages(at)
    assert {"find_support.py", "provision_gaps.py", "coverage_tables.py", "about.py"} <= pages(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/manage_directory.py")
    # the page itself, run directly (as if navigation were bypassed), gives nothing
    m = ok(signed_in(AppTest.from_file(MANAGE, default_timeout=120), None).run())
    assert write_controls(m) == 0 and not m.dataframe and not m.tabs
    assert "sign in on the Steward sign-in page" in m.info[0].value
    s = ok(signed_in(AppTest.from_file(SIGN_IN, default_timeout=120), None).run())
    assert [b.label for b in s.button] == ["Sign in"]


def test_without_auth_configured_editing_is_off_and_the_page_says_how(app_db):
    add_steward("sam@telford.gov.uk", "admin")
    at = AppTest.from_file(DASHBOARD, default_timeout=120)
    at.user = {"is_logged_in": True, "email": "sam@telford.gov.uk"}  # a claim, but no [auth] configured
    ok(at.run())
    assert "manage_directory.py" not in pages(at)
    s = AppTest.from_file(SIGN_IN, default_timeout=120)
    s.user = {"is_logged_in": False}
    ok(s.run())
    assert "Sign-in is not configured" in s.info[0].value
    assert "secrets.toml.example" in s.markdown[1].value and "stewards add" in s.markdown[1].value
    assert not s.button
    m = AppTest.from_file(MANAGE, default_timeout=120)
    m.user = {"is_logged_in": True, "email": "sam@telford.gov.uk"}
    ok(m.run())
    assert write_controls(m) == 0


def test_unlisted_and_disabled_accounts_are_refused(app_db):
    at = ok(signed_in(AppTest.from_file(DASHBOARD, default_timeout=120), "stranger@example.com").run())
    assert "manage_directory.py" not in pages(at)
    s = ok(signed_in(AppTest.from_file(SIGN_IN, default_timeout=120), "stranger@example.com").run())
    assert "stranger@example\\.com, which is not on this directory's list of stewards" in s.warning[0].value
    assert [b.label for b in s.button] == ["Sign out"]
    m = ok(signed_in(AppTest.from_file(MANAGE, default_timeout=120), "stranger@example.com").run())
    assert write_controls(m) == 0
    add_steward("sam@telford.gov.uk", authorities=[TELFORD])
    at = ok(signed_in(AppTest.from_file(DASHBOARD, default_timeout=120), "SAM@telford.gov.uk").run())
    assert "manage_directory.py" in pages(at) and "sign_in.py" not in pages(at)
    assert main(["stewards", "disable", "sam@telford.gov.uk"]) == EXIT_OK
    ok(at.run())  # the next interaction of the same session: access is gone
    assert "manage_directory.py" not in pages(at)


def test_idle_session_signs_in_again(app_db):
    add_steward("sam@telford.gov.uk", authorities=[TELFORD])
    d = Directory(app_db)
    with d.Session.begin() as s:
        s.get(Steward, "sam@telford.gov.uk").last_seen_at = datetime.now(timezone.utc) - timedelta(hours=2)
    two_hours_ago = time.time() - 7200
    m = ok(signed_in(AppTest.from_file(MANAGE, default_timeout=120), "sam@telford.gov.uk",
                     auth_time=two_hours_ago).run())
    assert write_controls(m) == 0
    s = ok(signed_in(AppTest.from_file(SIGN_IN, default_timeout=120), "sam@telford.gov.uk",
                     auth_time=two_hours_ago).run())
    assert "Your session has ended after 30 minutes without activity" in s.warning[0].value
    assert [b.label for b in s.button] == ["Sign in again"]
    m = ok(signed_in(AppTest.from_file(MANAGE, default_timeout=120), "sam@telford.gov.uk").run())  # signed in now
    assert m.file_uploader


def test_steward_imports_within_scope_only(app_db, areas):
    add_steward("sam@telford.gov.uk", name="Sam Patel", authorities=[TELFORD])
    at = ok(signed_in(AppTest.from_file(MANAGE, default_timeout=120), "sam@telford.gov.uk").run())
    assert "Taxonomy mapping" in [t.label for t in at.tabs] and "Stewards" not in [t.label for t in at.tabs]
    assert at.button(key="md_terms_save").disabled  # admins only
    assert not [t for t in at.text_input if "name" in (t.label or "").lower() and "recorded" in t.label.lower()]
    data = template_rows([
        {"name": "Hadley Stay and Play", "types": "stay_and_play", "postcode": TF1_1AA[0]},
        {"name": "Birmingham Baby Massage", "types": "baby_massage", "latitude": str(BIRMINGHAM[0]),
         "longitude": str(BIRMINGHAM[1])},
    ])
    ok(at.radio(key="md_kind").set_value("csv").run())
    ok(at.text_input(key="md_source_csv").input("Council").run())
    at.file_uploader[0].set_value(("list.csv", data, "text/csv"))
    ok(at.run())
    problems = at.dataframe[0].value
    assert list(problems["where"]) == ["row 3"] and list(problems.field) == ["scope"]
    assert "“Birmingham Baby Massage” is outside your scope: it is in Birmingham (E08000025)" in problems.problem[0]
    assert at.button(key="md_commit").disabled
    ok(at.checkbox(key="md_skip").check().run())
    ok(at.button(key="md_commit").click().run())
    assert "1 new" in at.success[0].value
    d = Directory(app_db)
    names = {r.name for r in d.records() if r.source == "Council"}
    assert names == {"Hadley Stay and Play"}
    assert d.history()[0]["actor"] == "sam@telford.gov.uk (Our CSV template: list.csv)"


def test_out_of_scope_edit_is_refused_with_its_message(app_db):
    add_steward("sam@telford.gov.uk", authorities=[TELFORD])
    at = ok(signed_in(AppTest.from_file(MANAGE, default_timeout=120), "sam@telford.gov.uk").run())
    ok(at.text_input(key="md_find").input(CAMDEN_SCHOOL).run())
    assert "is outside your scope: it is in Camden (E09000007)" in plain(at.warning[0].value)
    at.text_input(key="md_f_phone").input("0900 000 000")
    ok(next(b for b in at.button if b.label == "Save").click().run())
    assert plain(at.error[0].value).startswith("Nothing was changed. “Thomas Coram Centre” is outside your scope")
    assert not at.success
    ok(at.button(key="md_remove").click().run())
    assert "outside your scope" in plain(at.error[0].value)
    d = Directory(app_db)
    school = next(r for r in d.records() if r.name == CAMDEN_SCHOOL)
    assert school.phone != "0900 000 000"
    assert not any("sam@telford.gov.uk" in h["actor"] for h in d.history(limit=5000))  # nothing written


def test_admin_manages_stewards_in_the_browser(app_db):
    add_steward("ana@example.org", "admin")
    at = ok(signed_in(AppTest.from_file(MANAGE, default_timeout=120), "ana@example.org").run())
    assert "Stewards" in [t.label for t in at.tabs]
    at.text_input(key="ms_email").input("Bo@Telford.gov.uk")
    at.text_input(key="ms_name").input("Bo")
    at.multiselect(key="ms_auth").set_value([TELFORD])
    ok(next(b for b in at.button if b.label == "Add").click().run())
    bo = stewards.Stewards(Directory(app_db)).get("bo@telford.gov.uk")
    assert bo.authorities == {TELFORD} and bo.role == "steward" and bo.enabled
    with Directory(app_db).Session() as s:
        assert s.get(Steward, "bo@telford.gov.uk").updated_by == "ana@example.org"


# ---------------------------------------------------------------- command line


def test_stewards_command_line(app_db, capsys):
    assert main(["stewards", "add", "Sam@Telford.gov.uk", "--name", "Sam Patel", "--authority", "e06000020"]) \
        == EXIT_OK
    assert "added sam@telford.gov.uk (steward): may change Telford and Wrekin (E06000020)" in capsys.readouterr().out
    assert main(["stewards", "add", "sam@telford.gov.uk"]) == EXIT_PROBLEMS  # already listed
    assert main(["stewards", "add", "x@y.org", "--authority", "E0600002"]) == EXIT_PROBLEMS
    assert "Not an upper-tier authority code: E0600002" in capsys.readouterr().err
    assert main(["stewards", "add", "not-an-email"]) == EXIT_PROBLEMS
    assert main(["stewards", "scope", "sam@telford.gov.uk", "--source", "Telford & Wrekin Council", "--add"]) \
        == EXIT_OK
    assert main(["stewards", "add", "ana@example.org", "--role", "admin"]) == EXIT_OK
    assert main(["stewards", "disable", "sam@telford.gov.uk"]) == EXIT_OK
    capsys.readouterr()
    assert main(["stewards", "list"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out == ["ana@example.org\tana\tadmin\tenabled\tevery service (admin)",
                   "sam@telford.gov.uk\tSam Patel\tsteward\tdisabled\tTelford and Wrekin (E06000020); "
                   "source “Telford & Wrekin Council”"]
    assert main(["stewards", "disable", "nobody@x.org"]) == EXIT_PROBLEMS
    assert main(["stewards", "disable"]) == 2


def test_review_then_restrict_counts(app_db, areas):
    """The report's counts after the scope check: the refused row is rejected, not 'already in the directory'."""
    d = Directory(app_db).create()
    sam = add_steward("sam@telford.gov.uk", authorities=[TELFORD])
    data = template_rows([{"name": "Birmingham Group", "types": "stay_and_play", "latitude": str(BIRMINGHAM[0]),
                           "longitude": str(BIRMINGHAM[1])}])
    rv = review(read_services_csv(data, "Council", areas.postcodes), d)
    assert stewards.Guard(sam, d, areas).restrict(rv) == 1
    assert rv.counts["rejected"] == 1 and rv.counts["new"] == 0
    assert rv.refusal(skip_rejected=True) == "Nothing to write: the row was rejected (see the problems). Fix them and upload again."

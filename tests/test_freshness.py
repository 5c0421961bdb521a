"""Families see a steward's change on their next interaction, in every app process: the services
cache is keyed on a directory version every write bumps in the database (not a time-to-live)."""

from __future__ import annotations

import os
import subprocess
import sys

from streamlit.testing.v1 import AppTest

from directory.store import Directory, Place, ServiceRecord
from tests.conftest import ROOT
from tests.stewards_data import TF1_1AA, template_rows

FIND = "../views/find_support.py"


def record(name: str, sid: str = "f1") -> ServiceRecord:
    return ServiceRecord("Council", sid, name, ["stay_and_play"], [Place(TF1_1AA[1], TF1_1AA[2], postcode=TF1_1AA[0])])


def test_every_write_bumps_the_version_seen_by_another_engine(store):
    """Two engines on one database (SQLite file, and PostgreSQL): each write is seen by the other."""
    other = Directory(store.url)
    try:
        v = [other.version()]

        def bumped():
            v.append(other.version())
            return v[-1] == v[-2] + 1

        s = store.save(record("Hadley Stay and Play"), "a@x.org")
        assert bumped()
        store.save(record("Hadley Stay and Play (Tuesdays)"), "a@x.org", s.id, s.version)
        assert bumped()
        store.undo(s.id, "a@x.org")
        assert bumped()
        store.upsert([record("Second", "f2")], "a@x.org")
        assert bumped()
        store.upsert([record("Second", "f2")], "a@x.org")  # unchanged: nothing written, same version
        assert other.version() == v[-1]
        store.delete(s.id, "a@x.org")
        assert bumped()
        store.save_mappings(store.mapping_rows()[1:], "a@x.org")
        assert bumped()
    finally:
        other.engine.dispose()


def test_family_page_sees_a_command_line_import_from_another_process(tmp_path, monkeypatch, areas):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    at = AppTest.from_file(FIND, default_timeout=120)
    at.query_params["q"] = "TF1 1AA"
    at.run()
    assert not at.exception
    before = [e.label for e in at.expander]
    assert not any("Brand New Baby Group" in label for label in before)
    # another process (the command line) writes to the same database
    path = tmp_path / "new.csv"
    path.write_bytes(template_rows([{"name": "Brand New Baby Group", "types": "stay_and_play",
                                     "postcode": TF1_1AA[0]}]))
    done = subprocess.run([sys.executable, "-m", "directory", "import", "csv", str(path), "--source", "Council",
                           "--commit", "--steward", "operator"], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    at.run()  # the family's next interaction, in this process: the new service is there
    assert not at.exception
    assert any("Brand New Baby Group" in e.label for e in at.expander)
    # and a removal by another engine is seen too
    d = Directory(url)
    d.delete(d.find("Council", next(r.source_id for r in d.records() if r.source == "Council")).id, "operator")
    at.run()
    assert not any("Brand New Baby Group" in e.label for e in at.expander)
    d.engine.dispose()

"""`python -m directory` steward commands: import (csv, oruk, gias-cc), export-directory, db,
undo, not-verified; their output and exit codes, on a throwaway directory."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from directory.__main__ import EXIT_DATA, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, main
from directory.store import Directory
from tests.conftest import ROOT
from tests.stewards_data import NORTH_LINCS, later_extract, oruk_page, oruk_service


@pytest.fixture()
def cli_db(tmp_path, monkeypatch, areas):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    return url


def test_seed_says_how_many_it_added_then_adds_none(cli_db, seeded, capsys):
    # what scripts/setup.sh runs after the build, so that the app's first start finds the directory ready
    assert main(["seed"]) == EXIT_OK
    n = Directory(cli_db).count()
    assert n == seeded.count() > 3000  # the same files as the session's directory: the same services
    assert f": {n} services ({n} added now)" in capsys.readouterr().out
    assert main(["seed"]) == EXIT_OK
    assert f": {n} services (0 added now)" in capsys.readouterr().out


def test_gias_children_centres_sync_review_commit_and_reimport(cli_db, tmp_path, capsys, raw):
    # the directory starts with the 21 Aug 2026 extract (seeded); a later version changes four centres
    data, changed = later_extract(raw)
    path = tmp_path / "edubaseallchildrencentre20260901.csv"
    path.write_bytes(data)
    (tmp_path / "links_edubaseallchildrencentre20260901.csv").write_bytes(
        (raw / "links_edubaseallchildrencentre20260821.csv").read_bytes())
    assert main(["import", "gias-cc", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"links: {tmp_path / 'links_edubaseallchildrencentre20260901.csv'}" in out
    assert ("sync review against the stored DfE GIAS children's centres 01 Sep 2026: 0 new, 1 changed, "
            "2836 unchanged, 0 reappeared, 2 no longer listed, 1 listed as closed, 6 can't be placed") in out
    for kind, urns in (("no longer listed", changed["dropped"]), ("closed", changed["closed"]),
                       ("changed", changed["rephoned"])):
        for urn in urns:
            assert re.search(rf"^{kind}\t{urn}\t", out, re.M), (kind, urn)
    assert re.search(rf"^changed\t{changed['rephoned'][0]}\t.*\tphone$", out, re.M)
    assert "dry run" in out
    assert main(["import", "gias-cc", str(path), "--commit", "--steward", "Sam"]) == EXIT_OK
    # 2836 re-verified, 1 changed, 1 listed as closed, 2 no longer listed
    assert "written: 0 new, 2840 updated, 0 unchanged" in capsys.readouterr().out
    assert main(["import", "gias-cc", str(path), "--commit"]) == EXIT_OK
    assert "0 new, 1 changed, " not in capsys.readouterr().out
    d = Directory(cli_db)
    for urn in changed["dropped"] + changed["closed"]:
        st = d.find("DfE GIAS children's centres", urn)
        assert st.record.status == "defunct" and str(st.record.closed_on) == "2026-09-01"
    assert d.find("DfE GIAS children's centres", changed["rephoned"][0]).record.phone == "01234-567890"
    assert d.history()[0]["actor"] == "Sam (DfE GIAS children's centres CSV: edubaseallchildrencentre20260901.csv)"


def test_oruk_problems_exit_1_and_skip_rejected(cli_db, tmp_path, capsys):
    path = tmp_path / "feed.json"
    path.write_bytes(oruk_page([oruk_service("Baby Massage", lat=52.7, lon=-2.5, terms=(("Baby massage", None),)),
                                oruk_service("Antenatal workshops - baby care")]))
    assert main(["import", "oruk", str(path), "--source", "NL", "--commit"]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "service 2\terror\tlocation" in out and "nothing written" in out
    assert main(["import", "oruk", str(path), "--source", "NL", "--commit", "--skip-rejected"]) == EXIT_OK
    assert "written: 1 new" in capsys.readouterr().out


def test_real_feed_reported_not_mappable(cli_db, capsys):
    assert main(["import", "oruk", str(NORTH_LINCS), "--source", "North Lincolnshire Council"]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "738 services: 0 new" in out and "738 rejected" in out and "list summary" in out


def test_usage_and_data_errors(cli_db, tmp_path, capsys):
    assert main(["import", "oruk", str(tmp_path / "missing.json"), "--source", "x"]) == EXIT_DATA
    path = tmp_path / "x.json"
    path.write_text("[]")
    assert main(["import", "oruk", str(path)]) == EXIT_USAGE  # no source name
    assert "--source is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["import", "xml", str(path)])
    assert e.value.code == EXIT_USAGE


def test_export_db_undo_and_not_verified(cli_db, tmp_path, capsys):
    assert main(["db", "upgrade"]) == EXIT_OK
    from directory.migrate import head

    assert f"revision {head()} (newest {head()})" in capsys.readouterr().out
    d = Directory(cli_db)
    from tests.test_directory_storage import rec

    d.upsert([rec(1, last_verified=None)], "setup")
    out = tmp_path / "dir.json"
    assert main(["export-directory", "--format", "oruk", "-o", str(out)]) == EXIT_OK
    doc = json.loads(out.read_text())
    assert doc["total_items"] == 1 and doc["contents"][0]["fsm_source_id"] == "svc-1"
    assert main(["import", "oruk", str(out)]) == EXIT_USAGE  # a source name is still asked for
    assert main(["import", "oruk", str(out), "--source", "anything"]) == EXIT_OK
    assert "0 new, 0 updated, 1 unchanged" in capsys.readouterr().out
    assert main(["export-directory", "--format", "csv"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("source_id,name,")
    assert main(["not-verified"]) == EXIT_OK
    assert "Stay and play 1" in capsys.readouterr().out
    sid = d.find("Test council", "svc-1").id
    assert main(["undo", sid, "--steward", "Sam"]) == EXIT_OK  # its creation undone: gone
    assert d.find("Test council", "svc-1") is None
    assert main(["undo", "nope", "--steward", "Sam"]) == EXIT_PROBLEMS


def test_alembic_command_line_uses_the_same_url(tmp_path):
    """`alembic upgrade head` from a shell: the URL comes from FSM_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'shell.sqlite'}"
    env = {"FSM_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    from directory.migrate import current

    from directory.migrate import head

    assert current(Directory(url).engine) == head() == "0007_feeds_service_areas"  # after 0005 (reports), which follows 0006

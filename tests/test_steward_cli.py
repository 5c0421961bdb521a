"""`python -m directory` steward commands: import (csv, oruk, gias-cc), export-directory, db,
undo, not-verified; their output and exit codes, on a throwaway directory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from directory.__main__ import EXIT_DATA, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, main
from directory.store import Directory
from tests.conftest import ROOT
from tests.stewards_data import NORTH_LINCS, gias_cc_csv, gias_cc_row, oruk_page, oruk_service


@pytest.fixture()
def cli_db(tmp_path, monkeypatch, areas):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("FSM_DATABASE_URL", url)
    return url


def test_gias_children_centres_dry_run_commit_and_reimport(cli_db, tmp_path, capsys):
    path = tmp_path / "childrenscentres20250524.csv"
    path.write_bytes(gias_cc_csv([gias_cc_row(0, name="Hadley Children's Centre"),
                                  gias_cc_row(1, name="Closed Centre", status="Closed")]))
    assert main(["import", "gias-cc", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "2 rows: 1 new, 0 updated, 0 unchanged, 0 rejected, 1 skipped" in out and "dry run" in out
    assert main(["import", "gias-cc", str(path), "--commit", "--steward", "Sam"]) == EXIT_OK
    assert "written: 1 new" in capsys.readouterr().out
    assert main(["import", "gias-cc", str(path), "--commit"]) == EXIT_OK
    assert "0 new, 0 updated, 1 unchanged" in capsys.readouterr().out
    d = Directory(cli_db)
    assert d.find("DfE GIAS children's centres", "20000").record.name == "Hadley Children's Centre"
    assert d.history()[0]["actor"] == "Sam (DfE GIAS children's centres CSV: childrenscentres20250524.csv)"


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
    assert "revision 0006 (newest 0006)" in capsys.readouterr().out
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

    assert current(Directory(url).engine) == "0006"

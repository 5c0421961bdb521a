"""`python -m directory coverage`: exit codes, messages for bad arguments, progress, the files written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pandas.testing import assert_frame_equal

from directory import coverage as C
from directory import exports as E
from directory.__main__ import EXIT_DATA, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, main
from directory.areas import attach_areas
from tests.conftest import ROOT


def run(capsys, *argv):
    try:
        code = main(["coverage", *argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_levels_formats_and_exit_codes():
    p = subprocess.run([sys.executable, "-m", "directory", "coverage", "--help"], cwd=ROOT, capture_output=True,
                       text=True, env=dict(os.environ), timeout=60)
    assert p.returncode == 0
    for part in ("--level LEVEL", "--types TYPE", "--radius-km KM", "--authority CODE", "--region CODE",
                 "{csv,xlsx,geojson,gpkg}", "--out FILE", "exit codes: 0 written", "2 bad arguments",
                 "python -m directory coverage --level district --radius-km 1.6 --format xlsx --out districts.xlsx"):
        assert part in p.stdout, part


def test_district_workbook_with_progress_line(seeded, areas, capsys, tmp_path):
    out = tmp_path / "districts.xlsx"
    code, stdout, stderr = run(capsys, "--level", "district", "--types", "early_education", "--radius-km", "1.6",
                               "--format", "xlsx", "--out", str(out))
    assert code == EXIT_OK, stderr
    assert "district: 296 rows" in stdout and f"wrote {out}" in stdout
    assert "computing access for 33,755 LSOAs" in stderr and "100% done in" in stderr
    want = C.area_table(areas, attach_areas(seeded.service_frame(), areas), "district", ["early_education"], 1.6)
    assert_frame_equal(E.read_xlsx(out)["district"], want.frame)
    flat, _ = E.read_xlsx_metadata(out)
    assert flat["parameters.service_types"] == "early_education" and flat["tables.district.rows"] == 296


def test_authority_csv_gets_its_sidecar(seeded, capsys, tmp_path):
    out = tmp_path / "telford.csv"
    code, stdout, _ = run(capsys, "--level", "lsoa", "--authority", "Telford and Wrekin", "--out", str(out))
    assert code == EXIT_OK
    assert "lsoa: 115 rows" in stdout
    back = E.read_csv(out)
    assert set(back.frame.ltla24_code) == {"E06000020"}
    assert back.metadata["filters"]["authority"] == [{"code": "E06000020", "name": "Telford and Wrekin"}]


def test_every_level_into_one_geopackage(seeded, capsys, tmp_path):
    out = tmp_path / "ne.gpkg"
    code, stdout, _ = run(capsys, "--level", "all", "--region", "E12000001", "--out", str(out))
    assert code == EXIT_OK
    assert list(E.read_gpkg(out)) == list(C.LEVELS)
    assert "region: 1 rows" in stdout and "england: 1 rows" in stdout


def test_types_with_no_service_say_so(seeded, capsys, tmp_path):
    code, _, stderr = run(capsys, "--level", "england", "--types", "stay_and_play", "--out", str(tmp_path / "e.csv"))
    assert code == EXIT_OK
    assert "note: No service location of the chosen types is in the directory" in stderr


@pytest.mark.parametrize("args, message", [
    (["--level", "district", "--authority", "E0800009X"],
     "error: unknown authority code 'E0800009X': not an English authority"),
    (["--level", "district", "--authority", "Bradfrod"], "Did you mean E08000032 (Bradford)"),
    (["--level", "lsoa", "--region", "Midlands"], "unknown region code 'Midlands'"),
    (["--level", "district", "--radius-km", "-1"], "error: the radius must be more than 0 km (got -1)"),
    (["--level", "district", "--radius-km", "0"], "the radius must be more than 0 km"),
    (["--level", "district", "--types", "stay_and_ply"], "error: unknown service type 'stay_and_ply'. Known types:"),
    (["--level", "district", "--gap-deciles", "0"], "deprived deciles must be whole numbers 1 to 10"),
    (["--level", "district", "--demand", "adults"], "demand must be one of children_0_15, idaci_numerator, under5"),
    (["--level", "district", "--authority", "E06000020", "--region", "London"],
     "E06000020 (Telford and Wrekin) is not in the region"),
    (["--level", "lsoa", "district"], "a csv file holds one table, and 2 levels were asked for"),
])
def test_bad_arguments_exit_2_with_a_message(seeded, capsys, tmp_path, args, message):
    out = tmp_path / "x.csv"
    code, stdout, stderr = run(capsys, *args, "--out", str(out))
    assert code == EXIT_USAGE
    assert message in stderr and "python -m directory coverage --help" in stderr
    assert not out.exists() and stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--level", "parish", "--out", "x.csv"], "argument --level: invalid choice: 'parish'"),
    (["--level", "lsoa", "--radius-km", "far", "--out", "x.csv"], "argument --radius-km: invalid float value"),
    (["--level", "lsoa"], "the following arguments are required: --out"),
    (["--level", "lsoa", "--out", "x.csv", "--format", "shp"], "argument --format: invalid choice: 'shp'"),
])
def test_argparse_errors_exit_2(capsys, args, message):
    code, _, stderr = run(capsys, *args)
    assert code == EXIT_USAGE and message in stderr


def test_unknown_extension_and_missing_folder_exit_2(capsys, tmp_path):
    code, _, stderr = run(capsys, "--level", "lsoa", "--out", str(tmp_path / "x.txt"))
    assert code == EXIT_USAGE and "cannot tell the format from 'x.txt'" in stderr
    code, _, stderr = run(capsys, "--level", "lsoa", "--out", str(tmp_path / "nowhere" / "x.csv"))
    assert code == EXIT_USAGE and "does not exist" in stderr


def test_unwritable_output_exits_1(seeded, capsys, tmp_path):
    (tmp_path / "taken.csv").mkdir()  # a folder where the file should go
    code, _, stderr = run(capsys, "--level", "england", "--out", str(tmp_path / "taken.csv"))
    assert code == EXIT_PROBLEMS and "error: could not write" in stderr


def test_missing_official_data_exits_3(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FSM_BUILD_DIR", str(tmp_path / "build"))
    (tmp_path / "raw").mkdir()
    code, _, stderr = run(capsys, "--level", "england", "--raw", str(tmp_path / "raw"), "--out",
                          str(tmp_path / "e.csv"))
    assert code == EXIT_DATA
    assert "\nerror: The raw data folder" in stderr and str(tmp_path / "raw") in stderr

"""`python -m directory data download` against a local HTTP server serving small files the test writes."""

import functools
import http.server
import threading
from pathlib import Path

import pytest

from directory.sources import DataError, Source, download, load_catalogue


@pytest.fixture()
def server(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield site, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _catalogue(tmp_path: Path, base: str) -> Path:
    # the real catalogue's IMD entry, pointed at the local server, plus one source with no direct URL
    text = f'''
attribution = "test"
[sources.iod_ranks]
title = "IoD2025 File 7"
publisher = "MHCLG"
licence = "OGL v3"
vintage = "2025"
url = "{base}/File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv"
files = ["iod2025_lsoa21_ranks_scores_deciles.csv", "File_7_IoD2025*.csv"]
[sources.lsoa_lookup]
title = "LSOA lookup"
publisher = "ONS"
licence = "OGL v3"
vintage = "2024"
page = "https://geoportal.statistics.gov.uk/"
files = ["lookup_lsoa21_ward24_ltla24.csv"]
[sources.gone]
title = "A moved file"
publisher = "ONS"
licence = "OGL v3"
vintage = "2024"
url = "{base}/missing.csv"
files = ["missing.csv"]
'''
    p = tmp_path / "sources.toml"
    p.write_text(text)
    return p


def test_downloads_direct_urls_and_points_to_portal_pages(tmp_path, server):
    site, base = server
    (site / "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv").write_text(
        "LSOA code (2021),Index of Multiple Deprivation (IMD) Score\nE01000001,8.742\n")
    cat = load_catalogue(_catalogue(tmp_path, base))
    raw = tmp_path / "raw"
    said = []
    got = download(["iod_ranks", "lsoa_lookup"], raw, log=said.append, cat=cat)
    target = raw / "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv"
    assert got["iod_ranks"] == target and target.read_text().startswith("LSOA code (2021)")
    assert got["lsoa_lookup"] is None
    assert any("download by hand from https://geoportal.statistics.gov.uk/" in s for s in said)
    # a second run finds the file and fetches nothing
    said.clear()
    download(["iod_ranks"], raw, log=said.append, cat=cat)
    assert said == [f"iod_ranks: already present in {raw}"]


def test_failed_download_leaves_no_partial_file(tmp_path, server):
    _, base = server
    cat = load_catalogue(_catalogue(tmp_path, base))
    raw = tmp_path / "raw"
    with pytest.raises(DataError, match="gone: download of .*/missing.csv failed"):
        download(["gone"], raw, log=lambda s: None, cat=cat)
    assert list(raw.iterdir()) == []


def test_every_real_source_says_where_to_get_it():
    from directory.sources import catalogue

    for s in catalogue().sources.values():
        assert isinstance(s, Source)
        assert (s.url or s.page or "").startswith("https://") or s.key == "postcode_sectors", s.key

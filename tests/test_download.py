"""`python -m directory data download` against a local server that behaves like each publisher's endpoint.

The server (tests/download_site.py, 127.0.0.1 only) serves the real official files of FSM_RAW_DATA at the
real URLs' paths (host folded into the path): MHCLG's File 7 behind a redirect, ONS FeatureServer layers
paged with a small maxRecordCount and exceededTransferLimit (rows of the real lookups, features of the real
boundary files), the OS Downloads JSON listing with md5 and size, GIAS's dated names, a Census API answer.
Then: download -> build -> a family search, all offline, and the failures (HTTP 500, timeout, a changed
layout, an interrupted transfer resumed byte for byte, a proxy from the environment).

Re-encodings where the shared folder lacks the publisher's exact file (said at each one): File 7 is the
join of the two shared IoD CSVs cut from it; File 10 is written as a workbook from the shared CSV;
File 8 is served as the shared CSV (speed); the NSPL zip holds the shared 9-area NSPL subset; the mid-2020 under-5s are served as the shared CSV (the
published SAPE23DT2 workbook is not here; its reader is tested in test_under5). Census 2021 TS007A is NOT in the shared folder: its reader is
tested on a file in Nomis's published layout whose under-5 column holds stand-in numbers (see there).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import shutil
import json
import threading
import urllib.parse
import urllib.request
import zipfile
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from directory.download import METHODS, Fetcher, Spec, download, listing, load_specs
from directory.sources import DataError, catalogue, find_files
from tests.conftest import RAW
from tests.download_site import Layer, RawJSON, Site

SPECS = load_specs()


def local(url: str, base: str) -> str:
    """https://host/path?q -> http://127.0.0.1:port/host/path?q (the real path, served locally)."""
    u = urllib.parse.urlsplit(url)
    return f"{base}/{u.netloc}{u.path}" + (f"?{u.query}" if u.query else "")


def path_of(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    return f"/{u.netloc}{u.path}"


def local_specs(base: str, **override) -> dict[str, Spec]:
    out = {}
    for k, s in SPECS.items():
        fields = {**s.__dict__, "url": local(s.url, base) if s.url else ""}
        fields.update(override.get(k, {}))
        out[k] = Spec(**fields)
    return out


def quiet(_):
    pass


@pytest.fixture()
def site():
    s = Site()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    for v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(v, raising=False)


# ---------------------------------------------------------------- the real files, as each endpoint serves them


def csv_rows(name: str, rename: dict | None = None) -> list[dict]:
    df = pd.read_csv(RAW / name, dtype=str, keep_default_na=False)
    return df.rename(columns=rename or {}).to_dict("records")


LSOA_LOOKUP = {"lsoa21_code": "LSOA21CD", "lsoa21_name": "LSOA21NM", "ward24_code": "WD24CD",
               "ward24_name": "WD24NM", "ltla24_code": "LAD24CD", "ltla24_name": "LAD24NM"}
REGION_LOOKUP = {"ltla24_code": "LAD24CD", "ltla24_name": "LAD24NM", "region24_code": "RGN24CD",
                 "region24_name": "RGN24NM"}
LSOA11_LOOKUP = {"lsoa11_code": "LSOA11CD", "lsoa11_name": "LSOA11NM", "change_code": "CHGIND",
                 "lsoa21_code": "LSOA21CD", "lsoa21_name": "LSOA21NM", "ltla22_code": "LAD22CD",
                 "ltla22_name": "LAD22NM"}


UTLA_LOOKUP = {"ltla23_code": "LTLA23CD", "ltla23_name": "LTLA23NM", "utla23_code": "UTLA23CD",
               "utla23_name": "UTLA23NM"}
ICB_LOOKUP = {"lsoa21_code": "LSOA21CD", "lsoa21_name": "LSOA21NM", "sicbl24_code": "SICBL24CD",
              "sicbl24_name": "SICBL24NM", "sicbl24_code_nhs": "SICBL24CDH", "icb24_code": "ICB24CD",
              "icb24_name": "ICB24NM", "icb24_code_nhs": "ICB24CDH"}


@functools.cache
def file7() -> bytes:
    """File 7 holds ranks, scores, deciles and sub-domains: the two shared CSVs were cut from it."""
    ranks = pd.read_csv(RAW / "iod2025_lsoa21_ranks_scores_deciles.csv", dtype=str, keep_default_na=False)
    subs = pd.read_csv(RAW / "iod2025_lsoa21_subdomains.csv", dtype=str, keep_default_na=False)
    subs = subs[["lsoa21_code"] + [c for c in subs.columns if c not in ranks.columns]]
    return ranks.merge(subs, on="lsoa21_code", validate="one_to_one").to_csv(index=False).encode()


def workbook(sheets: dict[str, pd.DataFrame]) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as w:
        for name, df in sheets.items():
            df.to_excel(w, sheet_name=name, index=False)
    return buf.getvalue()


def file10() -> bytes:
    df = pd.read_csv(RAW / "iod2025_ltla24_summaries.csv", dtype=str, keep_default_na=False)
    notes = pd.DataFrame({"Notes": ["English Indices of Deprivation 2025: local authority district summaries"]})
    return workbook({"Notes": notes, "IMD": df})


#: Code-Point Open areas served in the end-to-end test: the nine of the NSPL subset (both builds read it) and WR.
SLICE_AREAS = ("dt", "hg", "hr", "hx", "sm", "sr", "tf", "wc", "wn", "wr")


@functools.cache
def codepoint_slice(areas: tuple[str, ...] = SLICE_AREAS) -> bytes:
    """An exact slice of codepo_gb.zip as OS ships it: every member (Doc/, the headers) but only the Data/CSV
    files of `areas`, each byte for byte. Building all 120 areas again would double the test's time."""
    buf = io.BytesIO()
    with zipfile.ZipFile(RAW / "codepo_gb.zip") as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            folder, name = info.filename.rsplit("/", 1) if "/" in info.filename else ("", info.filename)
            if folder == "Data/CSV" and name and name.removesuffix(".csv") not in areas:
                continue
            out.writestr(info, src.read(info))
    return buf.getvalue()


def postcode_area(postcode: str) -> str:
    return "".join(ch for ch in postcode.split(" ")[0] if ch.isalpha()).lower()


def boundary_layer(name: str, max_records: int) -> Layer:
    gdf = gpd.read_file(RAW / name)
    rows = gdf.drop(columns="geometry").to_dict("records")
    return Layer(rows=rows, geometries=list(shapely.to_geojson(gdf.geometry.values)), max_records=max_records)


@functools.cache
def nspl_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Data/NSPL_NOV_2021_UK.csv", gzip.decompress((RAW / "nspl_nov2021_subset_9_areas.csv.gz").read_bytes()))
        z.writestr("Documents/readme.txt", "NSPL November 2021 (9 postcode areas of the real file)")
    return buf.getvalue()


@functools.cache
def census_api() -> RawJSON:
    """The Census API's census-observations answer for LSOA x age (6 categories), from the shared census file."""
    df = pd.read_csv(RAW / "census21_lsoa21_population_age6.csv.gz", dtype=str, keep_default_na=False)
    codes = {c: str(i + 1) for i, c in enumerate(dict.fromkeys(df.age_group))}
    obs = ",".join(
        f'{{"dimensions":[{{"dimension":"Lower layer Super Output Areas","dimension_id":"lsoa","option":'
        f'{json.dumps(n)},"option_id":"{c}"}},{{"dimension":"Age (6 categories)","dimension_id":"resident_age_6a",'
        f'"option":"{a}","option_id":"{codes[a]}"}}],"observation":{int(v)}}}'
        for c, n, a, v in df[["lsoa21_code", "lsoa21_name", "age_group", "usual_residents"]].itertuples(index=False))
    return RawJSON(f'{{"observations":[{obs}],"total_observations":{len(df)}}}')


def serve_everything(site: Site, gias_day: date) -> None:
    """Every source the build requires, at its real path, in its publisher's protocol."""
    specs = SPECS
    # MHCLG: the asset URL redirects (as GOV.UK's asset host may) to the file
    f7 = path_of(specs["iod_ranks"].url)
    site.redirect(f7, f"{site.base}/cdn{f7}")
    site.file(f"/cdn{f7}", file7(), "text/csv")
    site.file(path_of(specs["iod_indicators"].url),
              (RAW / "iod2025_lsoa21_underlying_indicators.csv").read_bytes(), "text/csv")
    site.file(path_of(specs["iod_districts"].url), file10())
    fs = {"lsoa_lookup": Layer(csv_rows("lookup_lsoa21_ward24_ltla24.csv", LSOA_LOOKUP), max_records=2000),
          "region_lookup": Layer(csv_rows("lookup_ltla24_region24.csv", REGION_LOOKUP), max_records=100),
          "lsoa11_lsoa21": Layer(csv_rows("lookup_lsoa11_lsoa21_ltla22.csv", LSOA11_LOOKUP), max_records=2000)}
    cent = pd.read_csv(RAW / "lsoa21_population_weighted_centroids_england.csv", dtype=str)
    fs["lsoa_centroids"] = Layer([{"LSOA21CD": c} for c in cent.LSOA21CD],
                                 [{"x": float(x), "y": float(y)} for x, y in zip(cent.BNG_E, cent.BNG_N)], 2000)
    fs["lsoa_boundaries"] = boundary_layer("lsoa21_boundaries.gpkg", 2000)
    fs["district_boundaries"] = boundary_layer("ltla24_boundaries.gpkg", 100)
    for key, layer in fs.items():
        site.featureserver(path_of(specs[key].url), layer)
    site.json(path_of(specs["census_children"].url), lambda q: census_api())
    site.file(path_of(specs["under5"].url), (RAW / "ons_mid2020_lsoa11_population_under5_england.csv").read_bytes())
    site.file(path_of(specs["postcodes"].url), nspl_zip(), "application/zip")
    day = gias_day.strftime("%Y%m%d")
    site.file(path_of(specs["gias"].url.format(date=day)),
              gzip.decompress((RAW / "gias_open_establishments_20250524.csv.gz").read_bytes()), "text/csv")
    site.file(path_of(specs["gias_childrens_centres"].url.format(date=day)),
              (RAW / "edubaseallchildrencentre20260821.csv").read_bytes(), "text/csv")
    site.file(path_of(specs["gias_childrens_centres_links"].url.format(date=day)),
              (RAW / "links_edubaseallchildrencentre20260821.csv").read_bytes(), "text/csv")
    os_downloads(site, codepoint_slice())
    site.file(path_of(specs["la_names"].url), (RAW / "mysociety_uk_local_authorities.csv").read_bytes(), "text/csv")
    # upper tier and NHS geographies (issue 11's sources), with ONS's field names
    site.featureserver(path_of(specs["utla_lookup"].url), Layer(csv_rows("lookup_ltla23_utla23.csv", UTLA_LOOKUP), max_records=100))
    icb = pd.read_csv(RAW / "lookup_lsoa21_sicbl24_icb24.csv.gz", dtype=str, keep_default_na=False)
    site.featureserver(path_of(specs["icb_lookup"].url),
                       Layer(icb.rename(columns=ICB_LOOKUP).to_dict("records"), max_records=2000))
    for key, name in (("utla_boundaries", "ctyua23_boundaries_uk_bsc.geojson"),
                      ("icb_boundaries", "icb23_boundaries_en_bsc.geojson"),
                      ("sicbl_boundaries", "sicbl23_boundaries_en_bsc.geojson")):
        site.featureserver(path_of(specs[key].url), boundary_layer(f"boundaries_2023/{name}", 100))
    # DfE's list of family hub sites (optional, not in ../shared/data): its published layout, real GIAS hubs
    from tests.family_hub_rows import published_csv

    site.file(path_of(specs["family_hubs"].url), published_csv(), "text/csv")
    # census_under5 (Nomis TS007A) is not served: 404, as for a file we do not have


# ---------------------------------------------------------------- end to end


def test_download_build_and_a_family_search_offline(tmp_path, site, areas, seeded):
    from directory.areas import Areas
    from directory.bootstrap import seed
    from directory.build import build
    from directory.geocode import locate
    from directory.nearest import near
    from directory.store import Directory

    today = date(2026, 8, 22)
    serve_everything(site, gias_day=date(2026, 8, 21))  # today's GIAS files are not there yet
    raw, out = tmp_path / "raw", tmp_path / "build"
    said = []
    progress = []
    fx = Fetcher(log=said.append, progress=lambda *a: progress.append(a), timeout=30)
    # the published SAPE23DT2 workbook is not in the shared folder: its CSV re-encoding stands in (the
    # workbook reader is tested on the published layout in test_under5), and File 8 is served as the shared
    # CSV: writing and reading a 33,755-row workbook would take most of this test's time (the build reads
    # workbooks: File 10 is served as one)
    specs = local_specs(site.base, under5={"target": "ons_mid2020_lsoa11_population_under5_england.csv"},
                        iod_indicators={"target": "File_8_IoD2025_Underlying_Indicators.csv"})
    got = download(None, raw, log=said.append, fetcher=fx, specs=specs, today=today)

    cat = catalogue()
    for key, source in cat.sources.items():
        if source.required:
            assert find_files(source, raw), key
    assert got["census_under5"] is None and any("census_under5: FAILED" in s and "optional" in s for s in said)
    assert "postcodes" not in got  # the NSPL is optional now that Code-Point Open is fetched
    assert not list(raw.rglob("*.part")) and not (raw / ".download").exists()
    # GIAS: today's name first, then the day before
    gias_tries = [p for p, _ in site.requests if "edubasealldata" in p]
    assert [p.rsplit("/", 1)[-1] for p in gias_tries] == ["edubasealldata20260822.csv", "edubasealldata20260821.csv"]
    # FeatureServer: every page fetched, total as counted
    pages = [p for p, _ in site.requests if "LSOA21_WD24_LAD24_EW_LU/FeatureServer/0/query" in p and "resultOffset" in p]
    assert len(pages) == -(-35672 // 2000)
    assert any(s.startswith("lsoa_lookup: saved LSOA21_WD24_LAD24_EW_LU.csv (35,672 rows in 18 pages") for s in said)
    assert ("lsoa_lookup", 35672, 35672, "rows") in progress
    assert any(a[0] == "iod_ranks" and a[3] == "bytes" for a in progress)
    # files saved as published: byte for byte
    assert (raw / "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv").read_bytes() == file7()
    assert (raw / "codepo_gb.zip").read_bytes() == codepoint_slice()
    assert (raw / "edubaseallchildrencentre20260821.csv").read_bytes() == (
        RAW / "edubaseallchildrencentre20260821.csv").read_bytes()
    # the lookup as the service gave it, in the layout the build reads
    lk = pd.read_csv(raw / "LSOA21_WD24_LAD24_EW_LU.csv", dtype=str, keep_default_na=False)
    ref = pd.read_csv(RAW / "lookup_lsoa21_ward24_ltla24.csv", dtype=str, keep_default_na=False).rename(columns=LSOA_LOOKUP)
    assert lk.drop(columns="FID").equals(ref)
    b = gpd.read_file(raw / "Lower_layer_Super_Output_Areas_December_2021_Boundaries_EW_BSC_V4.gpkg")
    assert b.crs.to_epsg() == 4326 and len(b) == 35672

    # the reference build also reads the 9-area NSPL subset (optional, not downloaded: its item id changes with each
    # release): a postcode only the NSPL knows places a centre there. Give the downloaded folder the same file,
    # so that the two builds must agree exactly.
    shutil.copy(RAW / "nspl_nov2021_subset_9_areas.csv.gz", raw / "nspl_nov2021_subset_9_areas.csv.gz")
    manifest = build(raw, out)
    assert manifest["under5"]["source"] == "mid2020_bridged"
    built = Areas.load(out)
    assert built.lsoa.columns.tolist() == areas.lsoa.columns.tolist()
    pd.testing.assert_frame_equal(built.lsoa, areas.lsoa)
    pd.testing.assert_frame_equal(built.districts, areas.districts)
    assert len(built.lsoa_boundaries) == 33755 and len(built.district_boundaries) == 296

    # Code-Point Open was served for ten postcode areas (an exact slice): their postcodes are as in the reference
    assert not built.postcodes.national and built.postcodes.n_postcodes < 300_000
    assert set(built.postcodes.areas) >= {a.upper() for a in SLICE_AREAS}
    directory = Directory(f"sqlite:///{tmp_path / 'dir.sqlite'}").create()
    seed(directory, raw, built.postcodes)
    services, reference = directory.service_frame(), seeded.service_frame()
    key = ["name", "x", "y", "precision"]

    def in_slice(df):
        return df[df.postcode.fillna("").map(postcode_area).isin(SLICE_AREAS)]

    mine, theirs = in_slice(services), in_slice(reference)
    assert len(theirs) > 80  # the children's centres of ten postcode areas (nursery schools have no postcode)
    pd.testing.assert_frame_equal(mine[key].sort_values(key, ignore_index=True),
                                  theirs[key].sort_values(key, ignore_index=True))
    # the nursery schools carry their own coordinates (GIAS): every one is there, wherever it is
    def own_points(df):
        return df[df.precision == "building"][key].sort_values(key, ignore_index=True)

    assert len(own_points(reference)) >= 378
    pd.testing.assert_frame_equal(own_points(services), own_points(reference))
    where = locate("TF1 1AA", built.postcodes, built.places)
    found = near(services, where.x, where.y, 2.0)
    # as in test_nearest: the services within 2 km (or, if none, the nearest three), checked by brute force
    d = np.hypot(services.x - where.x, services.y - where.y) / 1000
    by_d = services.assign(d=d).sort_values(["d", "name"])
    expected = by_d[by_d.d <= 2.0] if (by_d.d <= 2.0).any() else by_d.head(3)
    assert found.within_radius == (by_d.d <= 2.0).any() and len(expected) > 0
    assert found.table.service_id.tolist() == expected.service_id.tolist()
    assert found.table.distance_km.tolist() == pytest.approx(expected.d.tolist())

    # a second run finds everything and fetches nothing
    n = len(site.requests)
    said.clear()
    download(None, raw, log=said.append, fetcher=fx, specs=specs, today=today)
    assert all("already present" in s or "census_under5" in s or "not needed" in s for s in said), said
    assert all("census2021-ts007a" in p for p, _ in site.requests[n:])


# ---------------------------------------------------------------- protocols and failures


def test_interrupted_file_resumes_with_range_and_is_byte_identical(tmp_path, site):
    body = file7()
    spec = SPECS["iod_ranks"]
    site.file(path_of(spec.url), body, "text/csv", cut_once=1_000_000)
    raw = tmp_path / "raw"
    specs = local_specs(site.base)
    with pytest.raises(DataError, match=r"iod_ranks: .*transfer .* run the download again to resume.*"
                                        r"Publisher's page: https://www.gov.uk/"):
        download(["iod_ranks"], raw, log=quiet, specs=specs)
    target = raw / "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv"
    part = target.with_name(target.name + ".part")
    assert not target.exists() and 0 < part.stat().st_size < len(body)
    assert not find_files(catalogue()["iod_ranks"], raw)  # the build never sees a partial file
    have = part.stat().st_size
    said = []
    download(["iod_ranks"], raw, log=said.append, specs=specs)
    assert site.requests[-1][1].get("Range") == f"bytes={have}-"
    assert f"iod_ranks: resuming {target.name} after {have:,} bytes" in said
    assert target.read_bytes() == body and not part.exists()


def test_interrupted_featureserver_resumes_at_the_missing_page(tmp_path, site):
    rows = csv_rows("lookup_lsoa21_ward24_ltla24.csv", LSOA_LOOKUP)
    spec = SPECS["lsoa_lookup"]
    layer = Layer(rows, max_records=5000, fail_page_once=3)
    site.featureserver(path_of(spec.url), layer)
    specs = local_specs(site.base)
    raw = tmp_path / "raw"
    with pytest.raises(DataError, match=r"lsoa_lookup: the service reported an error: 500 Error performing "
                                        r"query.*Publisher's page: https://geoportal.statistics.gov.uk/"):
        download(["lsoa_lookup"], raw, log=quiet, specs=specs)
    assert not find_files(catalogue()["lsoa_lookup"], raw)
    assert sorted(p.name for p in (raw / ".download" / "lsoa_lookup").iterdir()) == [
        "page-00000.json", "page-00001.json", "page-00002.json"]
    n = len(site.requests)
    said = []
    download(["lsoa_lookup"], raw, log=said.append, specs=specs)
    again = [urllib.parse.parse_qs(urllib.parse.urlsplit(p).query).get("resultOffset") for p, _ in site.requests[n:]]
    assert [o for o in again if o] == [["15000"], ["20000"], ["25000"], ["30000"], ["35000"]]
    assert any("3 page(s) kept from an interrupted run" in s for s in said)
    # byte-identical to an uninterrupted download
    fresh = tmp_path / "fresh"
    download(["lsoa_lookup"], fresh, log=quiet, specs=specs)
    assert (raw / spec.target).read_bytes() == (fresh / spec.target).read_bytes()
    assert pd.read_csv(fresh / spec.target).shape == (35672, 7)  # FID + the six fields


def test_featureserver_total_must_match_the_count(tmp_path, site):
    rows = csv_rows("lookup_ltla24_region24.csv", REGION_LOOKUP)
    spec = SPECS["region_lookup"]
    layer = Layer(rows, max_records=100)
    site.featureserver(path_of(spec.url), layer)
    original = site.query
    # the service stops early: says no exceededTransferLimit on page 2 although it counts 296
    site.query = lambda lyr, q: ({k: v for k, v in original(lyr, q).items() if k != "exceededTransferLimit"}
                                 if q.get("resultOffset") == "100" else original(lyr, q))
    with pytest.raises(DataError, match=r"region_lookup: fetched 200 features but the service counts 296"):
        download(["region_lookup"], tmp_path, log=quiet, specs=local_specs(site.base))
    assert not (tmp_path / spec.target).exists()


def test_changed_layout_names_the_source_and_its_page(tmp_path, site):
    rows = [{("LSOA_CODE_2021" if k == "LSOA21CD" else k): v for k, v in r.items()}
            for r in csv_rows("lookup_lsoa21_ward24_ltla24.csv", LSOA_LOOKUP)[:3000]]
    site.featureserver(path_of(SPECS["lsoa_lookup"].url), Layer(rows, max_records=2000))
    with pytest.raises(DataError, match=r"lsoa_lookup: the published layout has changed: .*missing column\(s\) "
                                        r"lsoa21_code.*Publisher's page: https://geoportal"):
        download(["lsoa_lookup"], tmp_path, log=quiet, specs=local_specs(site.base))
    assert not (tmp_path / SPECS["lsoa_lookup"].target).exists()


def test_http_500_and_timeout_name_the_source_and_its_page(tmp_path, site):
    site.status(path_of(SPECS["iod_indicators"].url), 500)
    site.slow(path_of(SPECS["iod_districts"].url), 3)
    specs = local_specs(site.base)
    with pytest.raises(DataError, match=r"iod_indicators: the server answered HTTP 500 Internal Server Error "
                                        r"\(http://127.0.0.1:\d+/assets.publishing.service.gov.uk/.*File_8.*\)\. "
                                        r"Publisher's page: https://www.gov.uk/government/statistics/english-indices"):
        download(["iod_indicators"], tmp_path, log=quiet, specs=specs)
    with pytest.raises(DataError, match=r"iod_districts: .*timed out.*Publisher's page: https://www.gov.uk/"):
        download(["iod_districts"], tmp_path, log=quiet, specs=specs, fetcher=Fetcher(timeout=0.5, log=quiet))
    assert list(tmp_path.iterdir()) == []


def os_downloads(site: Site, body: bytes, md5: str | None = None, size: int | None = None) -> None:
    """The OS Downloads API: without &redirect a JSON list; with it, a redirect to the zip."""
    listing_path = path_of(SPECS["codepoint"].url)
    zip_url = f"{site.base}/osdatahub-downloads/CodePointOpen/codepo_gb.zip"
    site.file("/osdatahub-downloads/CodePointOpen/codepo_gb.zip", body, "application/zip")

    def answer(s, h, q):
        if "redirect" in q:
            return s.send_redirect(h, zip_url)
        entry = {"md5": md5 or hashlib.md5(body).hexdigest(), "size": size or len(body), "format": "CSV",
                 "area": "GB", "fileName": "codepo_gb.zip",
                 "url": f"{s.base}{listing_path}?area=GB&format=CSV&redirect"}
        return s.send(h, 200, json.dumps([entry]).encode(), "application/json")

    site.custom(listing_path, answer)


def test_os_downloads_listing_md5_size_and_redirect(tmp_path, site):
    body = (RAW / "codepo_gb.zip").read_bytes()
    os_downloads(site, body)
    said = []
    got = download(["codepoint"], tmp_path, log=said.append, specs=local_specs(site.base))
    assert got["codepoint"] == tmp_path / "codepo_gb.zip"
    assert got["codepoint"].read_bytes() == body
    assert "codepoint: saved codepo_gb.zip (16,233,509 bytes, MD5 checked)" in said
    assert any(p.endswith("&redirect") for p, _ in site.requests)


def test_os_downloads_wrong_md5_or_size_keeps_nothing(tmp_path, site):
    body = (RAW / "codepo_gb.zip").read_bytes()
    os_downloads(site, body, md5="0" * 32)
    with pytest.raises(DataError, match=r"codepoint: codepo_gb.zip has MD5 [0-9a-f]{32}, the publisher lists 0{32}"
                                        r".*osdatahub.os.uk"):
        download(["codepoint"], tmp_path, log=quiet, specs=local_specs(site.base))
    assert list(tmp_path.iterdir()) == []


def test_gias_dated_falls_back_to_the_latest_published_day(tmp_path, site):
    real = RAW / "edubaseallchildrencentre20260821.csv"
    site.file(path_of(SPECS["gias_childrens_centres"].url.format(date="20260821")), real.read_bytes(), "text/csv")
    said = []
    got = download(["gias_childrens_centres"], tmp_path, log=said.append, specs=local_specs(site.base),
                   today=date(2026, 8, 23))
    assert got["gias_childrens_centres"].name == "edubaseallchildrencentre20260821.csv"
    assert got["gias_childrens_centres"].read_bytes() == real.read_bytes()
    assert [p.rsplit("/", 1)[-1] for p, _ in site.requests] == [
        "edubaseallchildrencentre20260823.csv", "edubaseallchildrencentre20260822.csv",
        "edubaseallchildrencentre20260821.csv"]
    assert "gias_childrens_centres: no file for 23 Aug 2026 yet, trying the day before" in said
    with pytest.raises(DataError, match=r"gias_childrens_centres: no file for any of the last 3 days"):
        download(["gias_childrens_centres"], tmp_path / "b", log=quiet, today=date(2026, 8, 30),
                 specs=local_specs(site.base, gias_childrens_centres={"days_back": 2}))


def test_proxy_from_the_environment_is_used(tmp_path, site, monkeypatch):
    body = (RAW / "mysociety_uk_local_authorities.csv").read_bytes()
    site.file(path_of(SPECS["la_names"].url), body, "text/csv")
    seen = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # a forward proxy: the request line carries the absolute URL
            seen.append(self.path)
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(self.path) as r:
                data = r.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        got = download(["la_names"], tmp_path, log=quiet, specs=local_specs(site.base))
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert got["la_names"].read_bytes() == body
    assert seen == [local(SPECS["la_names"].url, site.base)]


# ---------------------------------------------------------------- the catalogue and the command


# sources other issues add to data/sources.toml; their specs are written here already
PENDING = {"codepoint", "gias_childrens_centres", "gias_childrens_centres_links", "utla_lookup", "icb_lookup",
           "utla_boundaries", "icb_boundaries", "sicbl_boundaries", "la_names", "osm"}


def test_every_source_has_a_download_spec_with_a_file_name_the_build_recognises():
    cat = catalogue()
    assert set(cat.sources) <= set(SPECS), set(cat.sources) - set(SPECS)
    assert set(SPECS) <= set(cat.sources) | PENDING
    for key, spec in SPECS.items():
        assert spec.method in METHODS
        if spec.method == "none":
            assert not cat[key].required, key
            continue
        assert spec.url.startswith("https://") and spec.page.startswith("https://"), key
        if key in cat.sources and spec.method != "gias-dated":
            probe = Path("/nowhere") / spec.target
            assert any(__import__("fnmatch").fnmatch(probe.name.lower(), p.lower()) for p in cat[key].files), key
        if spec.method == "gias-dated":
            assert "{date}" in spec.url
    # File 7 is fetched once for both IoD sources
    assert SPECS["iod_ranks"].url == SPECS["iod_subdomains"].url


def test_list_prints_one_line_per_source(capsys):
    from directory.__main__ import main

    assert main(["data", "download", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == listing()
    rows = [line.split("\t") for line in lines]
    assert [r[0] for r in rows][: len(catalogue().sources)] == list(catalogue().sources)
    assert all(len(r) == 3 and r[1] in METHODS for r in rows)
    assert "codepoint\tos-downloads\thttps://api.os.uk/downloads/v1/products/CodePointOpen/downloads?area=GB&format=CSV" in lines
    assert any(r[0] == "gias" and r[2].endswith("edubasealldataYYYYMMDD.csv") for r in rows)


def test_if_missing_does_nothing_when_the_raw_folder_is_complete(capsys):
    from directory.__main__ import main

    assert main(["data", "download", "--if-missing", "--raw", str(RAW)]) == 0
    assert capsys.readouterr().out == ""


def test_unknown_source_name_is_a_usage_error(capsys):
    from directory.__main__ import main

    assert main(["data", "download", "--only", "nosuch"]) == 2
    assert "no source called nosuch" in capsys.readouterr().err


def test_partial_downloads_are_never_listed(tmp_path):
    (tmp_path / "census21_lsoa21_population_age6.csv.gz.part").write_bytes(b"half")
    (tmp_path / ".download" / "lsoa_lookup").mkdir(parents=True)
    (tmp_path / ".download" / "lsoa_lookup" / "lookup_lsoa21_ward24_ltla24.csv").write_text("x")
    assert find_files(catalogue()["census_children"], tmp_path) == []
    assert find_files(catalogue()["lsoa_lookup"], tmp_path) == []


def test_the_command_downloads_with_a_progress_line_per_file(tmp_path, site):
    """`python -m directory data download` as a user runs it (specs from FSM_DOWNLOADS_FILE, here pointing at
    the local server): one updating progress line per file on stderr, bytes or rows."""
    import os
    import subprocess
    import sys

    site.file(path_of(SPECS["iod_ranks"].url), file7(), "text/csv")
    site.featureserver(path_of(SPECS["region_lookup"].url),
                       Layer(csv_rows("lookup_ltla24_region24.csv", REGION_LOOKUP), max_records=100))
    specs = local_specs(site.base)
    toml = "".join(f'[{k}]\nmethod = "{s.method}"\nurl = "{s.url}"\ntarget = "{s.target}"\nformat = "{s.format}"\n'
                   for k, s in specs.items() if k in ("iod_ranks", "region_lookup"))
    (tmp_path / "downloads.toml").write_text(toml)
    env = {**os.environ, "FSM_DOWNLOADS_FILE": str(tmp_path / "downloads.toml"), "NO_PROXY": "127.0.0.1",
           "no_proxy": "127.0.0.1"}
    raw = tmp_path / "raw"
    # what scripts/setup.sh runs: the raw folder lacks required files, so every source with a spec is fetched
    run = subprocess.run([sys.executable, "-m", "directory", "data", "download", "--raw", str(raw), "--if-missing"],
                         env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"the raw folder {raw} lacks iod_ranks, iod_subdomains, iod_indicators" in run.stdout
    size = len(file7())
    assert f"  iod_ranks: {size:,} of {size:,} bytes (100%)" in run.stderr
    assert "  region_lookup: 296 of 296 rows (100%)" in run.stderr
    assert "region_lookup: saved LAD24_RGN24_EN_LU.csv (296 rows in 3 pages of up to 100" in run.stdout
    assert "2 source(s) in" in run.stdout
    assert (raw / "LAD24_RGN24_EN_LU.csv").exists()


def test_a_file_whose_layout_changed_or_a_web_page_is_refused(tmp_path, site):
    body = file7()
    header, rest = body.split(b"\n", 1)
    site.file(path_of(SPECS["iod_ranks"].url), header.replace(b"lsoa21_code", b"LSOA_2021") + b"\n" + rest, "text/csv")
    with pytest.raises(DataError, match=r"iod_ranks: the published layout has changed: .*missing column\(s\) "
                                        r"lsoa21_code.*Publisher's page: https://www.gov.uk/"):
        download(["iod_ranks"], tmp_path, log=quiet, specs=local_specs(site.base))
    # GIAS answering a missing day with a web page: treated as not published yet
    for day in ("20260823", "20260822"):
        site.file(path_of(SPECS["gias_childrens_centres_links"].url.format(date=day)), b"<html>Not yet</html>",
                  "text/html")
    with pytest.raises(DataError, match=r"gias_childrens_centres_links: no file for any of the last 2 days"):
        download(["gias_childrens_centres_links"], tmp_path, log=quiet, today=date(2026, 8, 23),
                 specs=local_specs(site.base, gias_childrens_centres_links={"days_back": 1}))
    assert list(tmp_path.iterdir()) == []

"""Download speed over loopback: what our protocols cost beyond moving the bytes.

    FSM_RAW_DATA=../shared/data .venv/bin/python bench/download_bench.py

A local server (tests/download_site.py) serves real files of FSM_RAW_DATA as the publishers do. Prints,
each against a reference measured in the same run:
- file: Code-Point Open (16 MB) through `Fetcher.to_file` (.part, MD5, zip check, rename) vs a plain
  urllib read of the same URL into memory;
- featureserver: the 35,672 LSOA 2021 boundaries in pages of 2,000 (GeoJSON) written as a GeoPackage vs
  reading the shared GeoPackage and writing it again (the part any writer pays);
- featureserver: the 35,672-row LSOA -> ward -> district lookup in pages of 2,000 written as CSV vs
  pandas reading and writing the shared CSV.
The network is loopback, so the figures are the client's own costs; a real download adds the transfer.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FSM_RAW_DATA", str((ROOT / ".." / "shared" / "data").resolve()))

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402

from directory import config  # noqa: E402
from directory.download import Fetcher, download, load_specs  # noqa: E402
from tests.download_site import Layer, Site  # noqa: E402
from tests.test_download import LSOA_LOOKUP, boundary_layer, csv_rows, local_specs, path_of  # noqa: E402

RAW = config.raw_dir()


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min)")
    specs = load_specs()
    site = Site()
    quiet = lambda s: None  # noqa: E731
    try:
        body = (RAW / "codepo_gb.zip").read_bytes()
        site.file("/zip/codepo_gb.zip", body, "application/zip")
        url = f"{site.base}/zip/codepo_gb.zip"
        spec = specs["codepoint"]
        with tempfile.TemporaryDirectory() as d:
            ours = timed(lambda: Fetcher(log=quiet).to_file(spec, url, Path(d) / "codepo_gb.zip", size=len(body),
                                                            md5=hashlib.md5(body).hexdigest()))
        ref = timed(lambda: urllib.request.urlopen(url).read())
        print(f"file, 16 MB zip with MD5 and zip check: {ours:.2f} s; plain urllib read {ref:.2f} s "
              f"({ours / ref:.1f}x)")

        site.featureserver(path_of(specs["lsoa_boundaries"].url), boundary_layer("lsoa21_boundaries.gpkg", 2000))
        site.featureserver(path_of(specs["lsoa_lookup"].url),
                           Layer(csv_rows("lookup_lsoa21_ward24_ltla24.csv", LSOA_LOOKUP), max_records=2000))
        local = local_specs(site.base)
        with tempfile.TemporaryDirectory() as d:
            ours = timed(lambda: download(["lsoa_boundaries"], Path(d), log=quiet, specs=local))
            ref = timed(lambda: gpd.read_file(RAW / "lsoa21_boundaries.gpkg").to_file(Path(d) / "ref.gpkg"))
        print(f"featureserver, 35,672 boundaries in 18 GeoJSON pages -> GeoPackage: {ours:.2f} s; "
              f"read + write the GeoPackage {ref:.2f} s ({ours / ref:.1f}x)")
        with tempfile.TemporaryDirectory() as d:
            ours = timed(lambda: download(["lsoa_lookup"], Path(d), log=quiet, specs=local))
            ref = timed(lambda: pd.read_csv(RAW / "lookup_lsoa21_ward24_ltla24.csv").to_csv(Path(d) / "r.csv"))
        print(f"featureserver, 35,672-row lookup in 18 JSON pages -> CSV: {ours:.2f} s; "
              f"pandas read + write the CSV {ref:.2f} s ({ours / ref:.1f}x)")
    finally:
        site.close()


if __name__ == "__main__":
    main()

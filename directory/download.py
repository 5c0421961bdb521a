"""Download every official file from its publisher's endpoint, as `data/downloads.toml` says.

One function per protocol (`file`, `nomis`, `item`, `os-downloads`, `gias-dated`,
`featureserver`, `ons-census`). What they share:

- a file is written to `NAME.part` and renamed only when complete and checked, so the
  build never reads half a file; a broken transfer leaves the `.part`, and the next run
  asks for the rest with an HTTP Range request (the result is byte-identical);
- paged services keep each fetched page under `raw/.download/KEY/`, so an interrupted
  run resumes at the first missing page;
- HTTP errors, timeouts and a changed upstream layout raise `DataError` naming the
  source and its landing page;
- proxies come from the usual environment variables (`https_proxy`, `http_proxy`,
  `no_proxy`) through urllib's default ProxyHandler.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import os
import shutil
import socket
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterable

from . import config
from .sources import Catalogue, DataError, Source, catalogue, column_map, find_files

DOWNLOADS_FILE = config.DATA_DIR / "downloads.toml"
METHODS = ("file", "nomis", "item", "os-downloads", "gias-dated", "featureserver", "ons-census", "none")
USER_AGENT = "family-support-map/1 (python-urllib)"
PARTIAL_DIR = ".download"

Log = Callable[[str], None]
#: progress(key, done, total or None, unit) where unit is "bytes" or "rows"
Progress = Callable[[str, int, "int | None", str], None]


class NotPublished(DataError):
    """The endpoint answered 404 (or an HTML page where a file should be)."""


@dataclass(frozen=True)
class Spec:
    key: str
    method: str
    url: str
    page: str
    target: str = ""
    format: str = ""
    member: str = ""
    out_sr: int = 4326
    days_back: int = 7
    default: bool | None = None
    unless: str | None = None
    note: str = ""

    def list_line(self) -> str:
        return f"{self.key}\t{self.method}\t{self.url.replace('{date}', 'YYYYMMDD') or self.note}"


def load_specs(path: Path | None = None, cat: Catalogue | None = None) -> dict[str, Spec]:
    """The download specs: data/downloads.toml, or the file named by FSM_DOWNLOADS_FILE (e.g. a mirror's)."""
    cat = cat or catalogue()
    path = path or os.environ.get("FSM_DOWNLOADS_FILE") or DOWNLOADS_FILE
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    specs = {}
    for key, s in raw.items():
        if s.get("method") not in METHODS:
            raise DataError(f"{path}: [{key}] has method {s.get('method')!r}; one of {', '.join(METHODS)}")
        source = cat.sources.get(key)
        page = s.get("page") or (source.page if source else None) or (source.url if source else None) or s.get("url", "")
        url = s.get("url", "")
        specs[key] = Spec(
            key=key, method=s["method"], url=url, page=page,
            target=s.get("target") or (url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] if url else ""),
            format=s.get("format", ""), member=s.get("member", ""), out_sr=int(s.get("out_sr", 4326)),
            days_back=int(s.get("days_back", 7)), default=s.get("default"), unless=s.get("unless"),
            note=s.get("note", ""),
        )
    return specs


# ---------------------------------------------------------------- HTTP


class Fetcher:
    """HTTP GETs with the environment's proxies, a timeout, resumable files and clear errors."""

    def __init__(self, opener: urllib.request.OpenerDirector | None = None, timeout: float = 60,
                 log: Log = print, progress: Progress | None = None, chunk: int = 1 << 16):
        self.opener = opener or urllib.request.build_opener()  # ProxyHandler() reads *_proxy, no_proxy
        self.timeout, self.log, self.progress, self.chunk = timeout, log, progress, chunk

    def fail(self, spec: Spec, what: str, url: str, cls: type[DataError] = DataError) -> DataError:
        return cls(f"{spec.key}: {what} ({url}). Publisher's page: {spec.page}")

    def open(self, spec: Spec, url: str, headers: dict | None = None):
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            return self.opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code == 416:
                raise
            cls = NotPublished if e.code == 404 else DataError
            raise self.fail(spec, f"the server answered HTTP {e.code} {e.reason}", url, cls) from e
        except urllib.error.URLError as e:
            if isinstance(e.reason, (TimeoutError, socket.timeout)):
                raise self.fail(spec, f"no answer within {self.timeout:g} s (timed out)", url) from e
            raise self.fail(spec, f"could not connect ({e.reason})", url) from e
        except (TimeoutError, socket.timeout) as e:
            raise self.fail(spec, f"no answer within {self.timeout:g} s (timed out)", url) from e
        except (OSError, http.client.HTTPException) as e:
            raise self.fail(spec, f"the connection failed ({e})", url) from e

    def read(self, spec: Spec, url: str) -> bytes:
        with self.open(spec, url) as resp:
            try:
                return resp.read()
            except (TimeoutError, socket.timeout) as e:
                raise self.fail(spec, f"the answer stalled for {self.timeout:g} s (timed out)", url) from e
            except (OSError, http.client.HTTPException) as e:
                raise self.fail(spec, f"the connection broke ({e!r})", url) from e

    def json(self, spec: Spec, url: str):
        body = self.read(spec, url)
        try:
            data = json.loads(body)
        except ValueError as e:
            raise self.fail(spec, f"the answer is not JSON (starts {body[:60]!r}): has the service changed?", url) from e
        if isinstance(data, dict) and "error" in data:  # ArcGIS reports errors inside a 200 answer
            err = data["error"]
            raise self.fail(spec, f"the service reported an error: {err.get('code')} {err.get('message')}", url)
        return data

    def to_file(self, spec: Spec, url: str, target: Path, size: int | None = None, md5: str | None = None,
                check: Callable[[Path], None] | None = None) -> Path:
        """Download `url` to `target` via `target.part`, resuming a `.part` left by a broken run."""
        part = target.with_name(target.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        try:
            resp = self.open(spec, url, {"Range": f"bytes={have}-"} if have else None)
        except urllib.error.HTTPError as e:  # 416: nothing after `have`, i.e. the .part is complete
            if not have:
                raise self.fail(spec, f"the server answered HTTP {e.code} {e.reason}", url) from e
            if size is not None and have != size:
                part.unlink(missing_ok=True)
                return self.to_file(spec, url, target, size, md5, check)
            resp = None
        if resp is not None:
            with resp:
                if resp.headers.get_content_type() == "text/html" and not url.endswith((".html", ".htm")):
                    raise self.fail(spec, "the server sent a web page where a file was expected", url, NotPublished)
                if have and resp.status != 206:
                    have = 0  # the server ignored the Range request: start again
                elif have and not resp.headers.get("Content-Range", f"bytes {have}-").startswith(f"bytes {have}-"):
                    part.unlink()
                    raise self.fail(spec, f"the server resumed at the wrong place ({resp.headers['Content-Range']}); "
                                    "run the download again to start afresh", url)
                elif have:
                    self.log(f"{spec.key}: resuming {target.name} after {have:,} bytes")
                length = resp.headers.get("Content-Length")
                total = have + int(length) if length is not None else size
                done, last = have, 0.0
                with open(part, "ab" if have else "wb") as out:
                    try:
                        while block := resp.read(self.chunk):
                            out.write(block)
                            done += len(block)
                            if self.progress and time.monotonic() - last > 0.5:
                                self.progress(spec.key, done, total, "bytes")
                                last = time.monotonic()
                    except (TimeoutError, socket.timeout) as e:
                        raise self.fail(spec, f"the transfer stalled for {self.timeout:g} s after {done:,} bytes "
                                        "(run the download again to resume)", url) from e
                    except (OSError, http.client.HTTPException) as e:
                        raise self.fail(spec, f"the transfer broke after {done:,} bytes ({e!r}); run the "
                                        "download again to resume", url) from e
                if total is not None and done != total:
                    raise self.fail(spec, f"the transfer ended after {done:,} of {total:,} bytes; run the "
                                    "download again to resume", url)
        got = part.stat().st_size
        if size is not None and got != size:
            part.unlink()
            raise self.fail(spec, f"{target.name} has {got:,} bytes, the publisher lists {size:,}", url)
        if md5 is not None:
            digest = file_md5(part)
            if digest.lower() != md5.lower():
                part.unlink()
                raise self.fail(spec, f"{target.name} has MD5 {digest}, the publisher lists {md5}", url)
        if check:
            try:
                check(part)
            except DataError:
                part.unlink()
                raise
        part.replace(target)
        if self.progress:
            self.progress(spec.key, got, got, "bytes")
        self.log(f"{spec.key}: saved {target.name} ({got:,} bytes{', MD5 checked' if md5 else ''})")
        return target


def file_md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- checking a file before it is used


def _header_of(stream: io.BufferedIOBase) -> list[str]:
    head = stream.read(1 << 16)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        text = head[: e.start].decode("utf-8-sig") if e.start > len(head) - 4 else head.decode("cp1252")
    return next(csv.reader(io.StringIO(text.splitlines()[0] if text else "")), [])


def checker(spec: Spec, cat: Catalogue) -> Callable[[Path], None]:
    """A check of a downloaded `.part` file: a whole zip, and the columns the build reads."""
    source = cat.sources.get(spec.key)
    name = spec.target.lower()

    def check(part: Path) -> None:
        header = None
        if name.endswith((".zip", ".xlsx")):
            try:
                with zipfile.ZipFile(part) as zf:
                    bad = zf.testzip()
                    if bad:
                        raise DataError(f"{spec.key}: {bad} in the downloaded {spec.target} is corrupt")
                    if spec.member:
                        members = {Path(m).name.lower(): m for m in zf.namelist()}
                        if spec.member.lower() not in members:
                            raise DataError(f"{spec.key}: {spec.target} no longer holds {spec.member}; the "
                                            f"publisher may have changed it. Publisher's page: {spec.page}")
                        with zf.open(members[spec.member.lower()]) as f:
                            header = _header_of(f)
            except zipfile.BadZipFile as e:
                raise DataError(f"{spec.key}: the downloaded {spec.target} is not a zip file ({e}). "
                                f"Publisher's page: {spec.page}") from e
        elif name.endswith(".csv"):
            with open(part, "rb") as f:
                header = _header_of(f)
        if header is not None and source is not None and source.columns:
            check_columns(spec, source, header)

    return check


def check_columns(spec: Spec, source: Source, header: Iterable[str]) -> None:
    try:
        column_map(source, list(header), Path(spec.target))
    except DataError as e:
        raise DataError(f"{spec.key}: the published layout has changed: {e} Publisher's page: {spec.page}") from e


# ---------------------------------------------------------------- one function per protocol


def get_file(spec: Spec, raw: Path, fx: Fetcher, cat: Catalogue, **_) -> Path:
    """`file`, `nomis` and `item`: one URL, saved as published."""
    return fx.to_file(spec, spec.url, raw / spec.target, check=checker(spec, cat))


def get_os_downloads(spec: Spec, raw: Path, fx: Fetcher, cat: Catalogue, **_) -> Path:
    """OS Downloads API: the JSON list names each file's url, size and md5; both are checked."""
    listing = fx.json(spec, spec.url)
    entries = listing if isinstance(listing, list) else listing.get("downloads", [])
    try:
        entry = next((e for e in entries if e.get("fileName", "").lower() == spec.target.lower()), entries[0])
        url, size, md5 = entry["url"], int(entry["size"]), entry["md5"]
    except (IndexError, KeyError, TypeError, ValueError) as e:
        raise fx.fail(spec, f"the download list no longer has url, size and md5 ({str(listing)[:200]})",
                      spec.url) from e
    name = Path(urllib.parse.urlsplit(entry.get("fileName") or spec.target).path).name
    return fx.to_file(spec, url, raw / name, size=size, md5=md5, check=checker(spec, cat))


def get_gias_dated(spec: Spec, raw: Path, fx: Fetcher, cat: Catalogue, today: date | None = None, **_) -> Path:
    """GIAS names each night's file by its date: today's, else the most recent of the last `days_back` days."""
    today = today or date.today()
    for back in range(spec.days_back + 1):
        day = today - timedelta(days=back)
        url = spec.url.format(date=day.strftime("%Y%m%d"))
        name = url.split("?")[0].rsplit("/", 1)[-1]
        try:
            return fx.to_file(spec, url, raw / name, check=checker(_with_target(spec, name), cat))
        except NotPublished:
            fx.log(f"{spec.key}: no file for {day:%d %b %Y} yet, trying the day before")
    raise fx.fail(spec, f"no file for any of the last {spec.days_back + 1} days", spec.url)


def _with_target(spec: Spec, name: str) -> Spec:
    return Spec(**{**spec.__dict__, "target": name})


def _query(layer_url: str, **params) -> str:
    return f"{layer_url}/query?{urllib.parse.urlencode({'where': '1=1', **params})}"


def get_featureserver(spec: Spec, raw: Path, fx: Fetcher, cat: Catalogue, **_) -> Path:
    """Every feature of an ArcGIS FeatureServer layer, page by page, written as the build reads it."""
    layer = fx.json(spec, f"{spec.url}?f=json")
    try:
        page_size = int(layer.get("maxRecordCount") or 1000)
        fields = [f["name"] for f in layer.get("fields", [])]
        oid = layer.get("objectIdField") or next(
            (f["name"] for f in layer.get("fields", []) if f.get("type") == "esriFieldTypeOID"), None)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise fx.fail(spec, "the layer description has changed (no maxRecordCount or fields)", spec.url) from e
    count_answer = fx.json(spec, _query(spec.url, returnCountOnly="true", f="json"))
    if not isinstance(count_answer, dict) or "count" not in count_answer:
        raise fx.fail(spec, f"returnCountOnly gave no count ({str(count_answer)[:100]})", spec.url)
    expected = int(count_answer["count"])

    geo = spec.format == "gpkg"
    params = {"outFields": "*", "resultRecordCount": page_size, "f": "geojson" if geo else "json"}
    if oid:
        params["orderByFields"] = oid
    if geo:
        params["outSR"] = 4326
    elif spec.format == "csv-points":
        params.update(outSR=spec.out_sr, returnGeometry="true")
    else:
        params["returnGeometry"] = "false"

    pages_dir = raw / PARTIAL_DIR / spec.key
    pages_dir.mkdir(parents=True, exist_ok=True)
    features: list[dict] = []
    page_files: list[Path] = []
    offset, page_no, resumed = 0, 0, 0
    source = cat.sources.get(spec.key)
    while True:
        page_file = pages_dir / f"page-{page_no:05d}.json"
        if page_file.exists():
            body = page_file.read_bytes()
            resumed += 1
        else:
            url = _query(spec.url, resultOffset=offset, **params)
            body = fx.read(spec, url)
            _atomic_write(page_file, body)
        where = f"{spec.url}/query, resultOffset={offset}"
        try:
            page = json.loads(body)
        except ValueError as e:
            page_file.unlink(missing_ok=True)
            raise fx.fail(spec, f"a page is not JSON (starts {body[:60]!r})", where) from e
        if isinstance(page, dict) and isinstance(page.get("error"), dict):
            page_file.unlink(missing_ok=True)
            err = page["error"]
            raise fx.fail(spec, f"the service reported an error: {err.get('code')} {err.get('message')}; run the "
                          "download again to resume at this page", where)
        got = page.get("features") if isinstance(page, dict) else None
        if not isinstance(got, list):
            page_file.unlink(missing_ok=True)
            raise fx.fail(spec, "a page of the query has no features list: has the service changed?", where)
        if page_no == 0 and got and source is not None and source.columns:
            first = list(got[0].get("properties" if geo else "attributes") or {})
            check_columns(spec, source, first + (["x", "y"] if spec.format == "csv-points" else []))
        if geo:
            page_files.append(page_file)
        else:
            features.extend(got)
        offset += len(got)
        page_no += 1
        if fx.progress:
            fx.progress(spec.key, offset, expected, "rows")
        exceeded = page.get("exceededTransferLimit", page.get("properties", {}).get("exceededTransferLimit", False))
        if not got or not exceeded:
            break
    if offset != expected:
        raise fx.fail(spec, f"fetched {offset:,} features but the service counts {expected:,} "
                      "(changed while downloading? run again)", spec.url)
    target = raw / spec.target
    part = target.with_name(target.name + ".part")
    if geo:
        _write_gpkg(page_files, part, Path(spec.target).stem)
    else:
        _write_csv(features, fields, part, points=spec.format == "csv-points")
    part.replace(target)
    shutil.rmtree(pages_dir, ignore_errors=True)
    _remove_if_empty(raw / PARTIAL_DIR)
    note = f", {resumed} page(s) kept from an interrupted run" if resumed else ""
    fx.log(f"{spec.key}: saved {target.name} ({offset:,} rows in {page_no} pages of up to {page_size:,}, "
           f"as counted by the service{note})")
    return target


def _atomic_write(path: Path, body: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(body)
    tmp.replace(path)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _cell(v) -> str:
    return "" if v is None else str(v)


def _write_csv(features: list[dict], fields: list[str], part: Path, points: bool) -> None:
    names = fields or (list(features[0]["attributes"]) if features else [])
    with open(part, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(names + (["x", "y"] if points else []))
        for feat in features:
            a = feat.get("attributes", {})
            row = [_cell(a.get(n)) for n in names]
            if points:
                g = feat.get("geometry") or {}
                row += [_cell(g.get("x")), _cell(g.get("y"))]
            w.writerow(row)


def _write_gpkg(pages: list[Path], part: Path, layer: str) -> None:
    """The GeoJSON pages (WGS84) as one GeoPackage layer."""
    import warnings

    import geopandas as gpd
    import pandas as pd

    frames = [gpd.read_file(p) for p in pages]
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)
    part.unlink(missing_ok=True)
    with warnings.catch_warnings():  # GDAL would like a .gpkg name; the .part is renamed when complete
        warnings.simplefilter("ignore", RuntimeWarning)
        gdf.to_file(part, driver="GPKG", layer=layer)


def get_ons_census(spec: Spec, raw: Path, fx: Fetcher, cat: Catalogue, **_) -> Path:
    """ONS Census 2021 API observations, written as the ONS custom-dataset CSV (one row per area and category)."""
    data = fx.json(spec, spec.url)
    try:
        obs = data["observations"]
        total = int(data.get("total_observations", len(obs)))
        rows = []
        for o in obs:
            area, cat_ = o["dimensions"][0], o["dimensions"][1]
            rows.append([area["option_id"], area["option"], cat_["option_id"], cat_["option"], o["observation"]])
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise fx.fail(spec, "the answer no longer has observations with two dimensions: has the API changed?",
                      spec.url) from e
    if len(rows) != total:
        raise fx.fail(spec, f"got {len(rows):,} observations of {total:,}", spec.url)
    target = raw / spec.target
    part = target.with_name(target.name + ".part")
    with open(part, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Lower layer Super Output Areas Code", "Lower layer Super Output Areas",
                    "Age (6 categories) Code", "Age (6 categories)", "Observation"])
        w.writerows(rows)
    checker(spec, cat)(part)
    part.replace(target)
    fx.log(f"{spec.key}: saved {target.name} ({len(rows):,} rows)")
    return target


PROTOCOLS: dict[str, Callable[..., Path]] = {
    "file": get_file, "nomis": get_file, "item": get_file, "os-downloads": get_os_downloads,
    "gias-dated": get_gias_dated, "featureserver": get_featureserver, "ons-census": get_ons_census,
}


# ---------------------------------------------------------------- the download command


def fetched_by_default(spec: Spec, cat: Catalogue) -> bool:
    """Sources the build reads (required ones, and optional ones whose spec says default = true)."""
    source = cat.sources.get(spec.key)
    if source is None or spec.method == "none":
        return False
    return spec.default if spec.default is not None else source.required


def present(key: str, raw: Path, cat: Catalogue, specs: dict[str, Spec]) -> list[Path]:
    """Files of `key` already in the raw folder (by the catalogue's patterns, else the spec's file name)."""
    if key in cat.sources:
        return find_files(cat[key], raw)
    spec = specs.get(key)
    if spec and spec.target and "{date}" not in spec.url:
        return [p for p in [raw / spec.target] if p.exists()]
    return []


def download(
    keys: Iterable[str] | None,
    raw: Path,
    log: Log = print,
    fetcher: Fetcher | None = None,
    cat: Catalogue | None = None,
    specs: dict[str, Spec] | None = None,
    today: date | None = None,
) -> dict[str, Path | None]:
    """Fetch the sources `keys` (default: every source the build reads) that are not in `raw` yet."""
    cat = cat or catalogue()
    specs = specs if specs is not None else load_specs(cat=cat)
    fx = fetcher or Fetcher(log=log)
    raw = Path(raw)
    raw.mkdir(parents=True, exist_ok=True)
    if keys:
        unknown = [k for k in keys if k not in specs]
        if unknown:
            raise DataError(f"no download spec for {', '.join(unknown)} (known: {', '.join(specs)})")
        wanted = list(dict.fromkeys(keys))
    else:
        wanted = [k for k, s in specs.items() if fetched_by_default(s, cat)]
        wanted.sort(key=lambda k: specs[k].unless is not None)  # a fallback after what it stands in for
    result: dict[str, Path | None] = {}
    failed: list[str] = []
    for key in wanted:
        spec = specs[key]
        found = present(key, raw, cat, specs)
        if found:
            log(f"{key}: already present ({found[0].name})")
            result[key] = found[0]
            continue
        if not keys and spec.unless and (result.get(spec.unless) or present(spec.unless, raw, cat, specs)):
            log(f"{key}: not needed ({spec.unless} is present)")
            result[key] = None
            continue
        if spec.method == "none":
            log(f"{key}: no official download ({spec.note})")
            result[key] = None
            continue
        log(f"{key}: {spec.method} {spec.url}")
        try:
            result[key] = PROTOCOLS[spec.method](spec, raw, fx, cat, today=today)
        except DataError as e:
            result[key] = None
            source = cat.sources.get(key)
            if keys or (source is not None and source.required):
                failed.append(str(e))
            log(f"{key}: FAILED: {e}" + ("" if keys or source is None or source.required
                                        else " (optional: the build goes on without it)"))
    if failed:
        raise DataError("download failed:\n  " + "\n  ".join(failed)
                        + "\nRun the same command again to resume; files already saved are kept.")
    return result


def listing(cat: Catalogue | None = None, specs: dict[str, Spec] | None = None) -> list[str]:
    """One line per source: name, method, URL (tab-separated), catalogue order first."""
    cat = cat or catalogue()
    specs = specs if specs is not None else load_specs(cat=cat)
    keys = [k for k in cat.sources if k in specs] + [k for k in specs if k not in cat.sources]
    return [specs[k].list_line() for k in keys]

"""The official raw files: what they are, where to find them, how to read them.

`data/sources.toml` describes each source. This module finds a source's files
in the raw folder, reads them with canonical column names whatever spelling
the publisher used, and checks them (`download.py` fetches them for users with internet).
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import re
import tomllib
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from .config import SOURCES_FILE


class DataError(Exception):
    """A raw file is missing, unreadable or not what we expect; the message names it."""


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    publisher: str
    licence: str
    vintage: str
    files: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    optional_columns: frozenset[str] = frozenset()
    url: str | None = None
    page: str | None = None
    rows: int | None = None
    required: bool = True
    multiple: bool = False
    required_unless: str | None = None

    @property
    def required_columns(self) -> list[str]:
        return [c for c in self.columns if c not in self.optional_columns]


@dataclass(frozen=True)
class Catalogue:
    attribution: str
    sources: dict[str, Source] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Source:
        return self.sources[key]


def load_catalogue(path: Path = SOURCES_FILE) -> Catalogue:
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    sources = {}
    for key, s in raw["sources"].items():
        sources[key] = Source(
            key=key,
            title=s["title"],
            publisher=s["publisher"],
            licence=s["licence"],
            vintage=s["vintage"],
            files=tuple(s["files"]),
            columns={k: tuple(v) for k, v in s.get("columns", {}).items()},
            optional_columns=frozenset(s.get("optional_columns", ())),
            url=s.get("url"),
            page=s.get("page"),
            rows=s.get("rows"),
            required=s.get("required", True),
            multiple=s.get("multiple", False),
            required_unless=s.get("required_unless"),
        )
    return Catalogue(attribution=raw["attribution"], sources=sources)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    return load_catalogue()


def norm(name: str) -> str:
    """Header spelling normalised for comparison: 'LSOA code (2021)' -> 'lsoa_code_2021'."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


# ---------------------------------------------------------------- finding files


def list_files(raw: Path) -> list[Path]:
    """Every file in `raw` and its sub-folders, sorted ([] when the folder is missing).

    Downloads in progress are never listed: `NAME.part` files and the pages kept under `.download/`.
    """
    raw = Path(raw)
    if not raw.is_dir():
        return []
    return sorted(p for p in raw.rglob("*") if p.is_file() and not p.name.endswith(".part")
                  and ".download" not in p.relative_to(raw).parts)


def find_files(source: Source, raw: Path, every: list[Path] | None = None) -> list[Path]:
    """Files of `source` in `raw` (and its sub-folders), by the first pattern that matches.

    Sources marked `multiple` return every match of every pattern (e.g. a
    partial and a national postcode file side by side). A pattern with a `/`
    matches the path below `raw` (an unzipped folder's layout). `every`: the folder's
    listing when the caller already has it (`list_files`).
    """
    every = list_files(raw) if every is None else every
    found: list[Path] = []
    for pattern in source.files:
        if "/" in pattern:  # a pattern with a folder matches the path below `raw` (e.g. "*Data/CSV/*.csv")
            hits = [p for p in every if fnmatch.fnmatch(_below(p, raw).lower(), pattern.lower())]
        else:
            hits = [p for p in every if fnmatch.fnmatch(p.name.lower(), pattern.lower())]
        hits = [p for p in hits if p not in found]
        if hits and not source.multiple:
            return hits[:1]
        found.extend(hits)
    return found


def _below(p: Path, raw: Path) -> str:
    try:
        return p.relative_to(raw).as_posix()
    except ValueError:
        return p.as_posix()


def require_files(source: Source, raw: Path) -> list[Path]:
    paths = find_files(source, raw)
    if not paths:
        where = source.url or source.page or "the publisher"
        raise DataError(
            f"{source.title}: no file matching {', '.join(source.files)} in {raw}. "
            f"Download it from {where} (or run `python -m directory data download --only {source.key}`)."
        )
    return paths


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- reading


def _open_bytes(path: Path) -> io.BufferedIOBase:
    """A binary stream of a CSV, looking inside .gz and .zip files."""
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".zip"):
        zf = zipfile.ZipFile(path)
        members = [m for m in zf.namelist() if m.lower().endswith(".csv")]
        # an official NSPL/ONSPD zip holds the data file beside documents and
        # per-region splits: prefer the UK-wide file, else the largest
        members.sort(key=lambda m: ("_uk.csv" not in m.lower(), -zf.getinfo(m).file_size))
        if not members:
            raise DataError(f"{path}: the zip file holds no CSV file")
        return zf.open(members[0])
    return open(path, "rb")


def _decoded(path: Path) -> io.TextIOBase:
    """Text of a CSV: UTF-8 (with or without BOM), else Windows-1252 (GIAS files are)."""
    with _open_bytes(path) as f:
        head = f.read(1 << 20)
    try:
        head.decode("utf-8-sig")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as e:
        if e.start > len(head) - 4:  # a multi-byte character cut by the sample
            encoding = "utf-8-sig"
        else:
            encoding = "cp1252"
    return io.TextIOWrapper(_open_bytes(path), encoding=encoding, newline="")


def column_map(source: Source, header: Iterable[str], path: Path) -> dict[str, str]:
    """Map the file's header names to canonical names; a missing required column is an error."""
    by_norm = {norm(h): h for h in header}
    mapping: dict[str, str] = {}
    missing = []
    for canonical, aliases in source.columns.items():
        hit = next((by_norm[norm(a)] for a in (canonical, *aliases) if norm(a) in by_norm), None)
        if hit is not None:
            mapping[hit] = canonical
        elif canonical not in source.optional_columns:
            missing.append(f"{canonical} (as {' or '.join(repr(a) for a in aliases)})")
    if missing:
        raise DataError(f"{path}: missing column(s) {'; '.join(missing)}. Is this the right file for '{source.title}'?")
    return mapping


def read_csv(
    source: Source,
    path: Path,
    extra: Callable[[str], bool] | None = None,
    dtype: dict | None = None,
) -> pd.DataFrame:
    """Read one CSV (or .xlsx workbook) of `source` with canonical column names.

    `extra(header_name)` selects further columns to keep under their
    normalised names (e.g. every IoD domain column).
    """
    if path.name.lower().endswith(".xlsx"):
        df, mapping = _read_xlsx(source, path)
        header = list(df.columns)
    else:
        with _decoded(path) as text:
            header = pd.read_csv(text, nrows=0).columns.tolist()
        mapping = column_map(source, header, path)
    keep = set(mapping)
    if extra:
        keep |= {h for h in header if h not in mapping and extra(norm(h))}
    if path.name.lower().endswith(".xlsx"):
        df = df[sorted(keep)]
    else:
        try:
            with _decoded(path) as text:
                df = pd.read_csv(text, usecols=sorted(keep), dtype=str, keep_default_na=False, na_values=[""])
        except (ValueError, pd.errors.ParserError) as e:
            raise DataError(f"{path}: could not read as CSV ({e})") from e
    df = df.rename(columns={h: mapping.get(h, norm(h)) for h in df.columns})
    if dtype:
        for col, kind in dtype.items():
            if col in df:
                df[col] = pd.to_numeric(df[col], errors="coerce").astype(kind)
    return df


def _read_xlsx(source: Source, path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """The first sheet of a workbook that has the source's columns (e.g. IoD File 8)."""
    errors = []
    for name, sheet in pd.read_excel(path, sheet_name=None, dtype=str).items():
        try:
            return sheet, column_map(source, sheet.columns, path)
        except DataError as e:
            errors.append(f"sheet {name!r}: {e}")
    raise DataError(f"{path}: no sheet has the expected columns ({'; '.join(errors)[:500]})")


def read_source(source: Source, raw: Path, **kw) -> pd.DataFrame:
    """All files of a source, concatenated, each read as `read_csv` does."""
    frames = [read_csv(source, p, **kw) for p in require_files(source, raw)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def check_england_rows(df: pd.DataFrame, code_col: str, source: Source, path: Path | str) -> pd.DataFrame:
    """Keep England's rows (codes starting with E) and check their number against the catalogue."""
    england = df[df[code_col].astype(str).str.startswith("E")]
    if source.rows is not None:
        n = england[code_col].nunique()
        if n != source.rows:
            raise DataError(
                f"{path}: expected {source.rows:,} English areas in '{source.title}', found {n:,}. "
                "Is the file complete and of the right vintage?"
            )
    return england


def is_missing(source: Source, raw: Path, cat: "Catalogue", every: list[Path] | None = None) -> bool:
    """A required source with no file, unless the source that replaces it is there (`required_unless`)."""
    if not source.required or find_files(source, raw, every):
        return False
    other = cat.sources.get(source.required_unless or "")
    return not (other and find_files(other, raw, every))

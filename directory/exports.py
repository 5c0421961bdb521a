"""Coverage tables as files analysts use in Excel, QGIS or R, each stating how it was made.

    csv      plain CSV (UTF-8, header row, no comment lines), and beside it NAME.metadata.json:
             the table's metadata (parameters, data vintages, build, generation time,
             attribution) with a Frictionless-style schema of every column
    xlsx     one sheet per table, plus a "metadata" sheet: key / value rows, then a column
             dictionary (table, column, type, pandas_dtype, description)
    geojson  an RFC 7946 FeatureCollection (WGS84, 7 decimals) with the metadata as a top-level
             "metadata" member (a foreign member, RFC 7946 section 6.1)
    gpkg     one layer per table, each with GDAL layer metadata `fsm_metadata` (the JSON) and a
             description; plus an attribute table "metadata" (key, value)

Geometries: LSOA polygons (ONS BSC), each kind of area's boundaries (area_kinds: district BUC,
upper-tier, ICB and sub-ICB BSC; region and England dissolved from the districts), service
location points.

Every reader (read_csv, read_xlsx, read_geojson, read_gpkg) gives the tables back with their
dtypes restored from the schema, so a round trip returns the table written.

Spreadsheet safety (the shared rule in `text.spreadsheet_safe`): a text cell written as "=..."
could run as a formula. In xlsx such cells are written as text with Excel's quote prefix. In
CSV, text cells starting with = + - @ tab, carriage return or ' get a leading ' (OWASP's
advice); read_csv removes it again.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import pandas as pd
import pyogrio
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from . import text
from .area_kinds import KINDS
from .areas import Areas
from .coverage import LEVELS, CoverageTable, merge_metadata

FORMATS = ("csv", "xlsx", "geojson", "gpkg")
EXTENSIONS = {"csv": ".csv", "xlsx": ".xlsx", "geojson": ".geojson", "gpkg": ".gpkg"}
MIME = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}
#: Formats that hold one table per file.
SINGLE_TABLE = ("csv", "geojson")
TEXT_ESCAPE = ("text cells starting with = + - @ tab, carriage return or ' are prefixed with ' (text that is a "
               "plain number is not)")
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ExportError(ValueError):
    """An export that cannot be made as asked (e.g. several tables into one CSV)."""


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The format asked for, or the one the file name's extension says."""
    if fmt:
        if fmt not in FORMATS:
            raise ExportError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
        return fmt
    ext = Path(path).suffix.lower()
    for f, e in EXTENSIONS.items():
        if ext == e or (f == "geojson" and ext == ".json"):
            return f
    raise ExportError(f"cannot tell the format from {Path(path).name!r}: give --format ({', '.join(FORMATS)}) "
                      "or end the file name with .csv, .xlsx, .geojson or .gpkg")


def _tables(tables) -> list[CoverageTable]:
    if isinstance(tables, CoverageTable):
        return [tables]
    if isinstance(tables, dict):
        return list(tables.values())
    return list(tables)


def _columns(table: CoverageTable) -> list[dict]:
    return table.metadata["tables"][table.name]["columns"]


def restore(frame: pd.DataFrame, columns: list[dict]) -> pd.DataFrame:
    """`frame` in the schema's column order with the schema's pandas dtypes (geometry kept last)."""
    out = frame[[c["name"] for c in columns] + (["geometry"] if "geometry" in frame else [])].copy()
    for c in columns:
        name, dtype = c["name"], c["pandas_dtype"]
        if dtype in ("str", "string", "object"):
            out[name] = out[name].astype("str")
        elif dtype == "bool":
            out[name] = out[name].astype(bool)
        elif dtype == "Int64":
            out[name] = pd.to_numeric(out[name], errors="raise").astype("Int64")
        else:
            out[name] = out[name].astype(dtype)
    return out


# ---------------------------------------------------------------- CSV


def sidecar_path(csv_path: str | Path) -> Path:
    p = Path(csv_path)
    return p.with_name(p.stem + ".metadata.json")


def _escape(frame: pd.DataFrame) -> pd.DataFrame:
    return text.spreadsheet_safe_frame(frame)


def _unescape(frame: pd.DataFrame, columns: list[dict]) -> pd.DataFrame:
    for c in columns:
        if c["type"] == "string":
            s = frame[c["name"]]
            quoted = s.str.startswith("'", na=False)
            if quoted.any():
                frame[c["name"]] = s.where(~quoted, s.map(text.spreadsheet_unescape))
    return frame


def csv_bytes(table: CoverageTable) -> bytes:
    """The plain CSV of one table (UTF-8, '\\n' line ends, blanks for missing values)."""
    return _escape(table.frame).to_csv(index=False, lineterminator="\n").encode("utf-8")


def sidecar(table: CoverageTable, csv_name: str) -> dict:
    return {**table.metadata, "csv": {"path": csv_name, "encoding": "utf-8", "delimiter": ",",
                                      "header": True, "missing_values": [""], "text_escape": TEXT_ESCAPE}}


def sidecar_bytes(table: CoverageTable, csv_name: str) -> bytes:
    return json.dumps(sidecar(table, csv_name), indent=1, ensure_ascii=False).encode("utf-8")


def write_csv(table: CoverageTable, path: str | Path) -> list[Path]:
    """The CSV and its sidecar NAME.metadata.json; returns both paths."""
    path = Path(path)
    path.write_bytes(csv_bytes(table))
    side = sidecar_path(path)
    side.write_bytes(sidecar_bytes(table, path.name))
    return [path, side]


def read_csv(path: str | Path) -> CoverageTable:
    """A CSV written by write_csv, typed by its sidecar."""
    path = Path(path)
    meta = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    meta.pop("csv", None)
    (name,) = meta["tables"]
    columns = meta["tables"][name]["columns"]
    dtypes = {c["name"]: ("str" if c["type"] == "string" else "Int64" if c["pandas_dtype"] == "Int64" else
                          c["pandas_dtype"]) for c in columns}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""], float_precision="round_trip",
                        encoding="utf-8")
    return CoverageTable(restore(_unescape(frame, columns), columns), meta)


# ---------------------------------------------------------------- metadata as rows


def flatten(meta: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Key / value rows for people: nested keys joined with '.', lists of dicts numbered from 1,
    lists of values joined with '; '. The per-column schema is left out (it has its own table)."""
    rows: list[tuple[str, object]] = []
    for k, v in meta.items():
        key = f"{prefix}{k}"
        if key.endswith(".columns") and key.startswith("tables."):
            continue
        if isinstance(v, dict):
            rows += flatten(v, key + ".")
        elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
            for i, x in enumerate(v, start=1):
                rows += flatten(x, f"{key}.{i}.") if isinstance(x, dict) else [(f"{key}.{i}", x)]
        elif isinstance(v, list):
            rows.append((key, "; ".join(str(x) for x in v)))
        else:
            rows.append((key, v))
    return rows


def _column_rows(meta: dict) -> list[list]:
    return [[name, c["name"], c["type"], c["pandas_dtype"], c["description"]]
            for name, t in meta["tables"].items() for c in t["columns"]]


# ---------------------------------------------------------------- Excel


def _cell_values(series: pd.Series) -> list:
    """Python values for openpyxl: None for missing, native ints/floats/bools, text as text."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(bool).tolist()
    if pd.api.types.is_numeric_dtype(series.dtype):
        arr = series.to_numpy(dtype=object, na_value=None)
        return [None if v is None or (isinstance(v, float) and v != v) else v for v in arr.tolist()]
    return [None if not isinstance(v, str) else v for v in series.astype(object).tolist()]


def _write_sheet(wb: Workbook, title: str, frame: pd.DataFrame) -> None:
    ws = wb.create_sheet(title)
    ws.freeze_panes = "A2"
    for i, c in enumerate(frame.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(c)) + 2))
    if len(frame.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
    bold = Font(bold=True)
    header = []
    for c in frame.columns:
        cell = WriteOnlyCell(ws, value=str(c))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    cols = []
    for c in frame.columns:
        vals = _cell_values(frame[c])
        if not pd.api.types.is_numeric_dtype(frame[c].dtype) and not pd.api.types.is_bool_dtype(frame[c].dtype):
            for k, v in enumerate(vals):
                if v is not None and (text.formula_like(v) or _ILLEGAL_XLSX.search(v)):
                    cell = WriteOnlyCell(ws, value=_ILLEGAL_XLSX.sub("", v))
                    cell.data_type = "s"  # never a formula
                    cell.quotePrefix = text.formula_like(v)  # Excel's own text marker: stays text when edited
                    vals[k] = cell
        cols.append(vals)
    for row in zip(*cols):
        ws.append(row)


def _write_metadata_sheet(wb: Workbook, meta: dict) -> None:
    ws = wb.create_sheet("metadata")
    ws.column_dimensions["A"].width = 42
    ws.column_dimensions["B"].width = 60
    ws.column_dimensions["C"].width = 12
    ws.column_dimensions["D"].width = 14
    ws.column_dimensions["E"].width = 90
    bold = Font(bold=True)

    def head(*values):
        row = []
        for v in values:
            c = WriteOnlyCell(ws, value=v)
            c.font = bold
            row.append(c)
        ws.append(row)

    def as_text(v):
        if isinstance(v, str):
            c = WriteOnlyCell(ws, value=_ILLEGAL_XLSX.sub("", v))
            c.data_type = "s"
            return c
        return v

    head("key", "value")
    for k, v in flatten({k: v for k, v in meta.items()}):
        ws.append([k, as_text(v)])
    ws.append([])
    head("table", "column", "type", "pandas_dtype", "description")
    for row in _column_rows(meta):
        ws.append([as_text(v) for v in row])


def xlsx_bytes(tables) -> bytes:
    """A workbook: one sheet per table (named by level) and a "metadata" sheet."""
    tables = _tables(tables)
    wb = Workbook(write_only=True)
    for t in tables:
        _write_sheet(wb, t.name, t.frame)
    _write_metadata_sheet(wb, merge_metadata(tables))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(tables, path: str | Path) -> list[Path]:
    Path(path).write_bytes(xlsx_bytes(tables))
    return [Path(path)]


def read_xlsx_metadata(path) -> tuple[dict, dict[str, list[dict]]]:
    """The metadata sheet: its key / value rows, and each table's column schema."""
    wb = load_workbook(path, read_only=True)
    try:
        rows = list(wb["metadata"].iter_rows(values_only=True))
    finally:
        wb.close()
    flat: dict = {}
    columns: dict[str, list[dict]] = {}
    part = "keys"
    for row in rows[1:]:
        row = list(row) + [None] * 5
        if row[0] is None and row[1] is None:
            continue
        if row[:5] == ["table", "column", "type", "pandas_dtype", "description"]:
            part = "columns"
            continue
        if part == "keys":
            flat[row[0]] = row[1]
        else:
            columns.setdefault(row[0], []).append(
                {"name": row[1], "type": row[2], "pandas_dtype": row[3], "description": row[4] or ""})
    return flat, columns


def read_xlsx(path) -> dict[str, pd.DataFrame]:
    """Each table of a workbook written by write_xlsx, typed by its metadata sheet, in sheet order."""
    _, columns = read_xlsx_metadata(path)
    sheets = pd.read_excel(path, sheet_name=list(columns), engine="openpyxl")
    out = {}
    for name, cols in columns.items():
        frame = sheets[name]
        for c in cols:  # openpyxl gives an empty text cell back as NaN already; keep text as text
            if c["type"] == "string":
                frame[c["name"]] = frame[c["name"]].astype(object)
        out[name] = restore(frame, cols)
    return out


# ---------------------------------------------------------------- geometry


def geometries(areas: Areas, table: CoverageTable) -> gpd.GeoSeries:
    """WGS84 geometry of each row of `table`, in row order (None where there is none)."""
    f, name = table.frame, table.name
    if name == "service":
        return gpd.GeoSeries(gpd.points_from_xy(f["lon"], f["lat"]), index=f.index, crs=4326)
    if name == "lsoa":
        src, key = areas.lsoa_boundaries, "lsoa21_code"
    else:  # an area kind: its boundaries (regions and England dissolved from the districts)
        src, key = areas.boundaries(name), KINDS[name].code
    geo = src.set_index(key).geometry.reindex(f[key].to_numpy())
    return gpd.GeoSeries(geo.to_numpy(), index=f.index, crs=src.crs).to_crs(4326)


def geo_frame(table: CoverageTable, areas: Areas) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(table.frame, geometry=geometries(areas, table), crs=4326)


# ---------------------------------------------------------------- GeoJSON


def write_geojson(table: CoverageTable, areas: Areas, path: str | Path) -> list[Path]:
    if isinstance(table, (list, tuple, dict)):
        tables = _tables(table)
        if len(tables) != 1:
            raise ExportError("a GeoJSON file holds one table: choose one level (or use gpkg or xlsx)")
        table = tables[0]
    path = Path(path)
    path.unlink(missing_ok=True)
    members = json.dumps({"metadata": table.metadata}, ensure_ascii=False)
    pyogrio.write_dataframe(
        geo_frame(table, areas), path, layer=table.name, driver="GeoJSON", use_arrow=True,
        layer_options={"RFC7946": "YES", "WRITE_NAME": "YES", "FOREIGN_MEMBERS_COLLECTION": members},
    )
    return [path]


def read_geojson_metadata(path: str | Path) -> dict:
    """The top-level "metadata" member (GDAL writes it before the features)."""
    text = Path(path).read_text(encoding="utf-8")
    at = text.index('"metadata":') + len('"metadata":')
    while text[at].isspace():
        at += 1
    meta, _ = json.JSONDecoder().raw_decode(text, at)
    return meta


def read_geojson(path: str | Path) -> CoverageTable:
    meta = read_geojson_metadata(path)
    (name,) = meta["tables"]
    gdf = pyogrio.read_dataframe(path, use_arrow=True)
    return CoverageTable(restore(gdf, meta["tables"][name]["columns"]), meta)


# ---------------------------------------------------------------- GeoPackage


def write_gpkg(tables, areas: Areas, path: str | Path) -> list[Path]:
    """One layer per table (layer metadata `fsm_metadata`), plus an attribute table "metadata"."""
    tables = _tables(tables)
    path = Path(path)
    path.unlink(missing_ok=True)
    for t in tables:
        pyogrio.write_dataframe(
            geo_frame(t, areas), path, layer=t.name, driver="GPKG", use_arrow=True, append=path.exists(),
            layer_metadata={"fsm_metadata": json.dumps(t.metadata, ensure_ascii=False)},
            layer_options={"DESCRIPTION": t.metadata["tables"][t.name]["title"]},
        )
    meta = merge_metadata(tables)
    rows = [(k, "" if v is None else str(v)) for k, v in flatten(meta)]
    rows += [(f"columns.{t}.{c}", f"{typ} ({dt}): {d}") for t, c, typ, dt, d in _column_rows(meta)]
    pyogrio.write_dataframe(pd.DataFrame(rows, columns=["key", "value"]), path, layer="metadata", driver="GPKG",
                            append=True)
    return [path]


def read_gpkg(path: str | Path) -> dict[str, CoverageTable]:
    out = {}
    for layer, geom in pyogrio.list_layers(path):
        if geom is None:
            continue
        meta = json.loads(pyogrio.read_info(path, layer=layer)["layer_metadata"]["fsm_metadata"])
        gdf = pyogrio.read_dataframe(path, layer=layer, use_arrow=True)
        out[layer] = CoverageTable(restore(gdf, meta["tables"][layer]["columns"]), meta)
    return out


# ---------------------------------------------------------------- one entry point


def export(tables, path: str | Path, fmt: str | None = None, areas: Areas | None = None) -> list[Path]:
    """Write `tables` (a CoverageTable, a list or a dict of them) to `path` in `fmt` (default:
    from the extension). Returns the files written (a CSV also writes its sidecar)."""
    fmt = format_of(path, fmt)
    tables = _tables(tables)
    if not tables:
        raise ExportError("nothing to export")
    if fmt in SINGLE_TABLE and len(tables) != 1:
        raise ExportError(f"a {fmt.upper()} file holds one table: choose one level (or use xlsx or gpkg, "
                          "which hold several)")
    if fmt in ("geojson", "gpkg") and areas is None:
        areas = Areas.load()
    if fmt == "csv":
        return write_csv(tables[0], path)
    if fmt == "xlsx":
        return write_xlsx(tables, path)
    if fmt == "geojson":
        return write_geojson(tables[0], areas, path)
    return write_gpkg(tables, areas, path)


def to_bytes(tables, fmt: str, areas: Areas | None = None) -> bytes:
    """The file's bytes (for download buttons). CSV: the CSV alone (see sidecar_bytes)."""
    tables = _tables(tables)
    if fmt == "csv":
        return csv_bytes(tables[0])
    if fmt == "xlsx":
        return xlsx_bytes(tables)
    with tempfile.TemporaryDirectory(prefix="fsm-export-") as d:
        path = Path(d) / f"export{EXTENSIONS[fmt]}"
        export(tables, path, fmt, areas)
        return path.read_bytes()


def file_name(tables, fmt: str, stem: str = "coverage") -> str:
    """e.g. coverage-utla-E10000034-1.6km-under5.xlsx (filters' codes, radius, demand)"""
    tables = _tables(tables)
    meta = tables[0].metadata
    levels = "-".join(t.name for t in tables) if len(tables) < len(LEVELS) else "all"
    where = [a["code"] for chosen in meta["filters"].values() for a in chosen]
    demand = {"children_0_15": "children", "idaci_numerator": "idaci"}.get(meta["parameters"]["demand"],
                                                                          meta["parameters"]["demand"])
    parts = [stem, levels, *where[:3], f"{meta['parameters']['radius_km']:g}km", demand]
    return "-".join(parts) + (".metadata.json" if fmt == "json" else EXTENSIONS[fmt])


def sizes(paths: Sequence[Path]) -> str:
    return ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in paths)

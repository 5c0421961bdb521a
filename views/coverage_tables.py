"""Coverage tables: analysts preview the numbers behind the maps and download them (CSV, Excel, GeoJSON, GeoPackage)."""

import hashlib

import pandas as pd
import streamlit as st

import ui
import ui_areas
from directory import coverage, exports, gapstate, taxonomy, text, under5, urlstate
from directory.access import DEFAULT_RADIUS_KM

PREVIEW_ROWS = 20
LEVEL_LABELS = {
    "lsoa": "Neighbourhoods (LSOA)",
    "utla": "Upper-tier authorities",
    "district": "Districts",
    "icb": "ICBs",
    "sicbl": "Sub-ICB locations",
    "region": "Regions",
    "england": "England",
    "service": "Service locations",
}
DEMAND_LABELS = {"under5": "Children under 5", "children_0_15": "All children aged 0-15",
                 "idaci_numerator": "Income-deprived children (IDACI)"}
#: coverage_tables' filter argument for each kind of area
FILTER_ARG = {"district": "authority", "region": "region", "utla": "utla", "icb": "icb", "sicbl": "sicbl"}

st.title("Coverage tables")
st.write(
    "The numbers behind the maps, for analysts: per neighbourhood, per upper-tier authority, district, NHS ICB and "
    "sub-ICB location, per region, for England "
    "and per service location. Choose the area, the types of support and the distance, preview the table, then "
    "download it for Excel, QGIS or R. Every file states its parameters, the data vintages and when it was made."
)

areas = ui.areas()
services = ui.services()
units = areas.units

# The URL holds the area (kind and code) and the table, so a link opens the same view.
start_kind, start_area = gapstate.decode_area(st.query_params, areas.unit_codes())
start_level = st.query_params.get("level")
for key, value in {"ct_kind": start_kind, "ct_area": start_area, "ct_types": [], "ct_radius": DEFAULT_RADIUS_KM,
                   "ct_deciles": 2, "ct_demand": "under5",
                   "ct_level": start_level if start_level in LEVEL_LABELS else "utla"}.items():
    st.session_state.setdefault(key, value)

kind, area = ui_areas.area_picker("ct", units)
c3, c4 = st.columns(2)
c3.multiselect("Types of support", [t.code for t in taxonomy.TERMS], key="ct_types", format_func=taxonomy.label,
               placeholder="All types")
c4.select_slider("Within reach means within (straight line)", options=list(urlstate.RADII_KM), key="ct_radius",
                 format_func=lambda r: f"{r:g} km", help="1.6 km (1 mile) is about 20 minutes' walk with a pram.")
with st.expander("Gap flag and children counted"):
    o1, o2 = st.columns(2)
    o1.select_slider("Deprived means IMD deciles 1 to", options=list(range(1, 11)), key="ct_deciles",
                     help="A gap is a neighbourhood in these deciles with no service within reach. Decile 1 is the "
                          "most deprived 10% of neighbourhoods in England.")
    o2.radio("Children counted", list(DEMAND_LABELS), key="ct_demand", format_func=DEMAND_LABELS.get,
             help="The demand of the floating catchment (2SFCA, E2SFCA) measures and of the gap children.")

level = st.radio("Table", list(LEVEL_LABELS), key="ct_level", format_func=LEVEL_LABELS.get, horizontal=True)

ss = st.session_state
chosen = area != gapstate.ENGLAND
url = {k: v for k, v in {"kind": kind if kind != "utla" else "", "area": area if chosen else "",
                         "level": level if level != "utla" else ""}.items() if v}
st.query_params.from_dict(url)
params = dict(types=tuple(ss.ct_types), radius_km=float(ss.ct_radius), deciles=tuple(range(1, ss.ct_deciles + 1)),
              demand=ss.ct_demand, filters=((FILTER_ARG[kind], (area,)),) if chosen else ())


def fingerprint(df: pd.DataFrame) -> str:
    """Changes whenever a service is added, moved, removed or retyped (part of the cache key)."""
    h = hashlib.sha1(pd.util.hash_pandas_object(df[["service_id", "location_id", "x", "y"]], index=False)
                     .to_numpy().tobytes())
    h.update("|".join(",".join(t) for t in df["types"]).encode())
    h.update(df["capacity"].astype(str).str.cat().encode() if "capacity" in df else b"")
    return h.hexdigest()


@st.cache_data(show_spinner="Computing the coverage tables for England...", max_entries=12)
def tables_for(_services, _fp, build_dir, types, radius_km, deciles, demand, filters):
    return coverage.coverage_tables(ui.areas(), _services, coverage.LEVELS, types, radius_km, deciles=deciles,
                                    demand=demand, walking_network=ui.walking_network(), **dict(filters))


tables = tables_for(services, fingerprint(services), str(areas.folder), **params)
table = tables[level]
meta = table.metadata
info = meta["tables"][level]
frame = table.frame

where = ui_areas.area_name(units, kind, area)
types_words = ", ".join(taxonomy.label(t) for t in ss.ct_types) if ss.ct_types else "any type"
st.subheader(f"{info['title']}: {text.md(where)}")
st.caption(
    f"**{len(frame):,} rows** × {len(frame.columns)} columns. Support of {text.md(types_words)} within "
    f"{ss.ct_radius:g} km in a straight line; gap = IMD 2025 deciles 1-{ss.ct_deciles} with none within reach; "
    f"counting {DEMAND_LABELS[ss.ct_demand].lower()}. Made {meta['generated_at']} from "
    f"{meta['services']['locations']:,} service locations."
    + (f" Under-5s: {under5.label(meta['parameters']['under5_source'])}." if ss.ct_demand == "under5" else "")
)
if level in coverage.AREA_LEVELS and chosen:
    st.caption("Area tables list whole areas: the districts of a chosen county, the region holding it, the ICBs "
               "it lies in, and England.")
for note in meta["notes"]:
    if note.startswith("No service"):
        st.warning(note)

KEY_COLUMNS = {"lsoa": ["lsoa21_code", "lsoa21_name"], "service": ["name"],
               **{k: coverage.KEYS[k][:2] for k in coverage.AREA_LEVELS}}
st.dataframe(frame.head(PREVIEW_ROWS), hide_index=True, width="stretch",
             column_config={c: st.column_config.Column(pinned=True) for c in KEY_COLUMNS[level]})
if len(frame) > PREVIEW_ROWS:
    st.caption(f"The first {PREVIEW_ROWS} of {len(frame):,} rows. The downloads hold every row.")

# ---------------------------------------------------------------- downloads
st.markdown("**Download**")
every = list(tables.values())


def make(fmt: str, what):
    """Deferred: the file is made when the button is clicked, not on every rerun."""
    return lambda: exports.to_bytes(what, fmt, areas)


row = st.container(horizontal=True, gap="small")
row.download_button("CSV", make("csv", table), file_name=exports.file_name(table, "csv"), mime=exports.MIME["csv"],
                   icon=":material/table:", key="ct_dl_csv", on_click="ignore",
                   help="This table as plain CSV (UTF-8). Its metadata is the JSON beside it.")
row.download_button("CSV metadata (JSON)", lambda: exports.sidecar_bytes(table, exports.file_name(table, "csv")),
                   file_name=exports.file_name(table, "json"), mime=exports.MIME["json"], icon=":material/data_object:",
                   key="ct_dl_json", on_click="ignore",
                   help="Parameters, data vintages, build, time made and a description of every column.")
row.download_button("Excel (all tables)", make("xlsx", every), file_name=exports.file_name(every, "xlsx"),
                   mime=exports.MIME["xlsx"], icon=":material/grid_on:", key="ct_dl_xlsx", on_click="ignore",
                   help="One sheet per table (LSOAs, upper-tier authorities, districts, ICBs, sub-ICB locations, "
                        "regions, England, services) and a metadata sheet.")
row.download_button("GeoJSON", make("geojson", table), file_name=exports.file_name(table, "geojson"),
                   mime=exports.MIME["geojson"], icon=":material/map:", key="ct_dl_geojson", on_click="ignore",
                   help="This table with its boundaries (or service points), WGS84; metadata in a top-level "
                        "'metadata' member.")
row.download_button("GeoPackage (all tables)", make("gpkg", every), file_name=exports.file_name(every, "gpkg"),
                   mime=exports.MIME["gpkg"], icon=":material/layers:", key="ct_dl_gpkg", on_click="ignore",
                   help="One layer per table with boundaries or points, for QGIS; metadata in each layer and in a "
                        "'metadata' table.")
st.caption("Large national files take a few seconds to prepare after the click (Excel longest).")

with st.expander("What the columns mean"):
    st.dataframe(pd.DataFrame(info["columns"])[["name", "type", "description"]], hide_index=True,
                 width="stretch")
with st.expander("Sources and vintages"):
    st.dataframe(pd.DataFrame(meta["sources"])[["title", "publisher", "vintage", "licence", "url"]],
                 hide_index=True, width="stretch", column_config={"url": st.column_config.LinkColumn()})
    build = meta.get("build") or {}
    st.caption(f"Derived data built {build.get('built_at', 'unknown')} (build version {build.get('version', '?')}); "
               "each file's metadata lists the SHA-256 of every input file.")

ui.footer()

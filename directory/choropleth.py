"""Maps of the access measures for commissioners: one area's LSOAs, or England by area (area_kinds).

What is sent to the browser, and why:
- One authority: its LSOAs as a folium GeoJson FeatureCollection made from the ONS super
  generalised (BSC) boundaries, coordinates rounded to 5 decimals (about 1 m), each feature keyed
  by its LSOA code (`id`, so folium's style lookup is stable) and carrying only what the tooltip
  shows: name, IMD decile, children, distance to the nearest service and the measure's value
  (already formatted, with its unit). The largest areas by LSOA count, Kent (938 LSOAs) and the
  North East and North Cumbria ICB (1,889), stay under 2 MB of page (tests assert it).
- England: 33,755 LSOA polygons would be ~12 MB and ~20 s of drawing (docs/notes), so England is
  drawn by areas of one kind (area_kinds: its 153 upper-tier authorities by default, or its 42
  ICBs, or districts...), each coloured by the area aggregate of the measure defined in MEASURES
  (`district`, the aggregation rule): sums for children counts,
  children-weighted means for distances, counts and scores, demand-weighted means for the
  floating-catchment ratios (that is total reachable supply shared out per child), and for
  deciles the share of children living in the deprived deciles.
- Colours are classed (a fixed scale for deciles and distances, quantiles of the values in view
  otherwise); the legend is a Leaflet control built here (no d3/branca scripts, so offline maps
  still draw) and names the unit. Every string is HTML-escaped with text.esc.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from . import area_kinds, text
from .maps import TYPE_COLOURS, base_map, finish

#: IMD-style deciles: 1 (most deprived) dark red .. 10 (least deprived) dark blue.
DECILE_COLOURS = ["#a50026", "#d73027", "#f46d43", "#fdae61", "#fee090", "#e0f3f8", "#abd9e9", "#74add1",
                  "#4575b4", "#313695"]
REDS = ["#fee5d9", "#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15"]
BLUES = ["#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]
PURPLES = ["#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f"]
NONE_COLOUR = "#f0f0f0"
DISTANCE_COLOURS = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#7f0000"]
ENGLAND = "E92000001"


@dataclass(frozen=True)
class Measure:
    code: str
    label: str  # for an LSOA
    column: str  # in access.lsoa_measures' output
    unit: str
    scale: str  # "decile", "distance", "count", "quantile", "quantile0" (0 has its own class)
    colours: tuple[str, ...]
    aggregate: str  # over an area: "sum", "mean_children", "mean_demand", "share_deprived"
    area_label: str
    area_unit: str
    explain: str
    decimals: int = 0


MEASURES: dict[str, Measure] = {m.code: m for m in (
    Measure("gap", "Deprived children far from support", "gap_children", "children", "quantile0", tuple(REDS),
            "sum", "Deprived children far from support", "children",
            "Children in the most deprived neighbourhoods (the IMD deciles you chose) whose nearest service is "
            "farther than the radius. 0 means the neighbourhood is not deprived enough to count, or a service "
            "is within reach."),
    Measure("nearest", "Distance to the nearest service", "nearest_km", "km", "distance", tuple(DISTANCE_COLOURS),
            "mean_children", "Average distance from a child's neighbourhood to the nearest service", "km",
            "Straight-line distance from where people in the neighbourhood live (the ONS population-weighted "
            "centre) to the nearest service of the chosen types. Real routes are longer.", 1),
    Measure("count", "Services within the radius", "n_within", "services", "count", tuple(BLUES),
            "mean_children", "Services within the radius, averaged over children", "services",
            "How many services of the chosen types are within the radius (straight line) of the "
            "neighbourhood's centre.", 1),
    Measure("e2sfca", "Services per 1,000 children (E2SFCA)", "e2sfca_per_1000", "per 1,000 children",
            "quantile0", tuple(BLUES), "mean_demand", "Services per 1,000 children (E2SFCA), area average",
            "per 1,000 children",
            "Enhanced two-step floating catchment: each service is shared among the children who can reach it "
            "(nearer children count more: 100% in the nearest third of the radius, 68% in the middle third, 22% "
            "in the outer third), then each neighbourhood adds up its shares. Higher is better; it accounts "
            "for crowding, which a simple count does not.", 2),
    Measure("sfca", "Services per 1,000 children (2SFCA)", "sfca_per_1000", "per 1,000 children", "quantile0",
            tuple(BLUES), "mean_demand", "Services per 1,000 children (2SFCA), area average",
            "per 1,000 children",
            "Two-step floating catchment: like E2SFCA but every child within the radius counts the same.", 2),
    Measure("imd", "IMD decile", "imd_decile", "decile (1 = most deprived 10%)", "decile", tuple(DECILE_COLOURS),
            "share_deprived", "Children living in the most deprived neighbourhoods", "% of children",
            "Index of Multiple Deprivation 2025 decile of the neighbourhood among all 33,755 in England: 1 is the "
            "most deprived tenth."),
    Measure("imd_score", "IMD score", "imd_score", "score (higher = more deprived)", "quantile", tuple(REDS),
            "mean_children", "IMD score, averaged over children", "score (higher = more deprived)",
            "The Index of Multiple Deprivation 2025 score behind the rank and decile.", 1),
    Measure("income", "Income deprivation decile", "income_decile", "decile (1 = most deprived 10%)", "decile",
            tuple(DECILE_COLOURS), "share_deprived", "Children living in the most income-deprived neighbourhoods",
            "% of children", "Income domain decile of the IoD2025 (people on low incomes or benefits)."),
    Measure("cyp", "Children and young people sub-domain score", "children_and_young_people_score",
            "score (higher = more deprived)", "quantile", tuple(REDS), "mean_children",
            "Children and young people sub-domain score, averaged over children", "score (higher = more deprived)",
            "IoD2025 education sub-domain for children and young people (attainment, absence, staying on in "
            "education): higher means more deprived.", 2),
    Measure("children", "Children aged 0-15", "children_0_15", "children", "quantile", tuple(PURPLES), "sum",
            "Children aged 0-15", "children", "Usual residents aged 15 and under, Census 2021."),
)}


def decile_column(measure: Measure) -> str | None:
    return measure.column if measure.scale == "decile" else None


# ---------------------------------------------------------------------------
# classes and colours
# ---------------------------------------------------------------------------

@dataclass
class Classes:
    """Colour classes: value v goes in class k when edges[k] < v <= edges[k+1] (first class: v <= edges[1]),
    or in the `zero` class when v == 0 and it is set. `labels` are for the legend."""

    edges: list[float]
    colours: list[str]
    labels: list[str]
    zero: str | None = None
    zero_label: str = ""

    def colour(self, v) -> str:
        if v is None or pd.isna(v):
            return NONE_COLOUR
        if self.zero is not None and v == 0:
            return self.zero
        k = int(np.searchsorted(self.edges[1:-1], v, side="left"))
        return self.colours[min(k, len(self.colours) - 1)]

    def legend(self) -> list[tuple[str, str]]:
        out = [(self.zero, self.zero_label)] if self.zero is not None else []
        return out + list(zip(self.colours, self.labels))


def _fmt(v: float, decimals: int) -> str:
    if np.isinf(v):
        return "none"
    return f"{v:,.{decimals}f}"


def classify(values, measure: Measure, radius_km: float, unit: str | None = None, decimals: int | None = None,
             scale: str | None = None) -> Classes:
    """Classes for the values in view (deciles and distances on fixed scales)."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float)
    v = v[np.isfinite(v)]
    scale = scale or measure.scale
    dec = measure.decimals if decimals is None else decimals
    colours = list(measure.colours)
    if scale == "decile":
        return Classes([i + 0.5 for i in range(0, 11)], colours, [str(i) for i in range(1, 11)])
    if scale == "distance":
        r = radius_km
        edges = [0, r / 2, r, 2 * r, 5 * r, 10 * r, np.inf]
        labels = [f"up to {_fmt(r / 2, 1)}", f"{_fmt(r / 2, 1)} to {_fmt(r, 1)} (within reach)",
                  f"{_fmt(r, 1)} to {_fmt(2 * r, 1)}", f"{_fmt(2 * r, 1)} to {_fmt(5 * r, 1)}",
                  f"{_fmt(5 * r, 1)} to {_fmt(10 * r, 1)}", f"over {_fmt(10 * r, 1)}"]
        return Classes(edges, colours, labels)
    if scale == "count":
        edges = [-0.5, 0.5, 1.5, 3.5, 7.5, 15.5, np.inf]
        labels = ["0", "1", "2-3", "4-7", "8-15", "16 or more"]
        if len(v) and v.max() < 1 and (v % 1).any():  # averages below 1 (district means): quantiles instead
            return classify(values, measure, radius_km, unit, 2, "quantile")
        if len(v) and (v % 1).any():
            labels = ["under 0.5", "0.5 to 1.5", "1.5 to 3.5", "3.5 to 7.5", "7.5 to 15.5", "over 15.5"]
        return Classes(edges, [REDS[3]] + colours[1:], labels)
    zero = None
    if scale == "quantile0":
        zero = NONE_COLOUR
        v = v[v > 0]
    if len(v) == 0:
        return Classes([-np.inf, np.inf], [colours[0]], ["-"], zero, "0")
    qs = np.unique(np.quantile(v, np.linspace(0, 1, 6)))
    if dec == 0:
        qs = np.unique(np.round(qs))
    if len(qs) == 1:
        qs = np.array([qs[0], qs[0]])
    edges = [-np.inf] + list(qs[1:-1]) + [np.inf]
    n = len(edges) - 1
    pick = np.linspace(1 if zero else 0, len(colours) - 1, n).round().astype(int)
    lo = [qs[0]] + list(qs[1:-1])
    hi = list(qs[1:-1]) + [qs[-1]]
    labels = [f"{_fmt(a, dec)} to {_fmt(b, dec)}" for a, b in zip(lo, hi)]
    return Classes(edges, [colours[i] for i in pick], labels, zero, "0" if zero else "")


# ---------------------------------------------------------------------------
# GeoJSON
# ---------------------------------------------------------------------------

def rounded_geojson(geom, decimals: int = 5) -> dict:
    """A geometry as a GeoJSON dict with coordinates rounded (5 decimals: about 1 m)."""
    g = shapely.transform(geom, lambda c: np.round(c, decimals))
    return json.loads(shapely.to_geojson(g))


def value_text(v, measure: Measure, unit: str | None = None) -> str:
    unit = measure.unit if unit is None else unit
    if v is None or pd.isna(v):
        return "not available"
    if np.isinf(v):
        return "no service of these types"
    if measure.aggregate == "share_deprived" and unit.startswith("%"):
        return f"{v:.0f}% of children"
    return f"{_fmt(float(v), measure.decimals)} {unit}"


def _int_text(v) -> str:
    return "suppressed" if v is None or pd.isna(v) else f"{int(round(float(v))):,}"


def lsoa_features(boundaries: gpd.GeoDataFrame, measures: pd.DataFrame, measure: Measure, classes: Classes,
                  decimals: int = 5) -> dict:
    """FeatureCollection of the LSOAs in `measures` (joined to `boundaries` by lsoa21_code), with
    only the tooltip's properties, escaped, and each feature's fill colour (property `f`)."""
    geo = boundaries.set_index("lsoa21_code").geometry
    feats = []
    for row in measures.to_dict("records"):
        code = row["lsoa21_code"]
        if code not in geo.index:
            continue
        v = row[measure.column]
        feats.append({
            "type": "Feature",
            "id": text.esc(code),
            "properties": {
                "name": text.esc(row["lsoa21_name"]),
                "decile": _int_text(row.get("imd_decile")),
                "children": _int_text(row.get("children_0_15")),
                "under5": _int_text(row.get("under5")),
                "km": "none" if np.isinf(row["nearest_km"]) else f"{row['nearest_km']:.1f} km",
                "value": text.esc(value_text(v, measure)),
                "f": classes.colour(v),
            },
            "geometry": rounded_geojson(geo[code], decimals),
        })
    return {"type": "FeatureCollection", "features": feats}


def area_values(measures: pd.DataFrame, measure: Measure, kind: str = "utla", *, deciles=(1, 2),
                demand: str = "children_0_15") -> pd.DataFrame:
    """One row per area of `kind` (area_kinds): code, name, value (the measure's area aggregate),
    children_0_15, under5, gap_children, mean nearest_km (children-weighted)."""
    k = area_kinds.kind(kind)
    m = area_kinds.with_country(measures)
    kids = m["children_0_15"].astype(float)
    dem = pd.to_numeric(m[demand], errors="coerce").fillna(0).astype(float)
    col = pd.to_numeric(m[measure.column], errors="coerce").astype(float)
    df = pd.DataFrame({
        "code": m[k.code], "name": m[k.name],
        "children_0_15": kids,
        "under5": pd.to_numeric(m["under5"], errors="coerce").fillna(0).astype(float) if "under5" in m else 0.0,
        "gap_children": m["gap_children"].astype(float),
        "kids_x_km": kids * m["nearest_km"].astype(float),
        "sum_v": col.fillna(0), "kids_x_v": kids * col, "dem_x_v": dem * col, "dem": dem,
        "deprived_kids": np.where(col.isin(list(deciles)), kids, 0.0),
    })
    g = df.groupby(["code", "name"], sort=True).sum(numeric_only=True).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["nearest_km"] = g["kids_x_km"] / g["children_0_15"]
        if measure.aggregate == "sum":
            g["value"] = g["sum_v"]
        elif measure.aggregate == "mean_children":
            g["value"] = g["kids_x_v"] / g["children_0_15"]
        elif measure.aggregate == "mean_demand":
            g["value"] = np.where(g["dem"] > 0, g["dem_x_v"] / g["dem"], np.nan)
        elif measure.aggregate == "share_deprived":
            g["value"] = 100 * g["deprived_kids"] / g["children_0_15"]
    return g[["code", "name", "value", "children_0_15", "under5", "gap_children", "nearest_km"]]


def area_features(boundaries: gpd.GeoDataFrame, table: pd.DataFrame, measure: Measure, classes: Classes,
                  kind: str = "utla", decimals: int = 4) -> dict:
    """FeatureCollection of the areas in `table` (rows of area_values), joined to `boundaries` by
    the kind's code column."""
    geo = boundaries.set_index(area_kinds.kind(kind).code).geometry
    feats = []
    for row in table.to_dict("records"):
        code = row["code"]
        if code not in geo.index:
            continue
        feats.append({
            "type": "Feature",
            "id": text.esc(code),
            "properties": {
                "name": text.esc(row["name"]),
                "value": text.esc(value_text(row["value"], measure, measure.area_unit)),
                "children": _int_text(row["children_0_15"]),
                "under5": _int_text(row["under5"]),
                "gap": _int_text(row["gap_children"]),
                "km": "none" if not np.isfinite(row["nearest_km"]) else f"{row['nearest_km']:.1f} km",
                "f": classes.colour(row["value"]),
            },
            "geometry": rounded_geojson(geo[code], decimals),
        })
    return {"type": "FeatureCollection", "features": feats}


# ---------------------------------------------------------------------------
# the map
# ---------------------------------------------------------------------------

class Legend(MacroElement):
    """A Leaflet control with coloured boxes and labels (all text escaped here)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomright"});
        {{ this.get_name() }}.onAdd = function (map) {
            var div = L.DomUtil.create("div", "fsm-legend");
            div.innerHTML = {{ this.html|tojson }};
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, title: str, items: list[tuple[str, str]]):
        super().__init__()
        self._name = "Legend"
        rows = "".join(
            f'<div><span style="display:inline-block;width:11px;height:11px;background:{text.esc(c)};'
            f'border:1px solid #999;margin-right:6px;vertical-align:middle"></span>{text.esc(label)}</div>'
            for c, label in items
        )
        self.html = (
            '<div style="background:rgba(255,255,255,0.9);padding:4px 6px;border-radius:4px;font:11px/1.35 '
            f'sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3);max-width:190px"><b>{text.esc(title)}</b>{rows}</div>'
        )


TOOLTIP_STYLE = "font-size: 12px; padding: 4px 6px;"


def _style(feature):
    return {"fillColor": feature["properties"]["f"], "color": "#555555", "weight": 0.5, "fillOpacity": 0.75}


def _highlight(feature):
    return {"weight": 2.5, "color": "#000000"}


def add_services(m: folium.Map, services: pd.DataFrame, max_markers: int = 1500) -> int:
    """Small circles for services (escaped names in tooltips). Returns how many were drawn."""
    shown = services.head(max_markers)
    group = folium.FeatureGroup(name="Services", control=False)
    for row in shown.to_dict("records"):
        types = row.get("types") or []
        colour = TYPE_COLOURS.get(types[0] if len(types) else "", "#333333")
        folium.CircleMarker(
            [round(float(row["lat"]), 5), round(float(row["lon"]), 5)], radius=5, color="#ffffff", weight=1.5,
            fill=True, fill_color=colour, fill_opacity=1.0, tooltip=text.esc(row.get("name") or "Service"),
        ).add_to(group)
    group.add_to(m)
    return len(shown)


def add_sites(m: folium.Map, sites: pd.DataFrame, radius_km: float) -> None:
    """Proposed new sites: numbered pins with their radius."""
    for row in sites.to_dict("records"):
        lat, lon = round(float(row["lat"]), 5), round(float(row["lon"]), 5)
        tip = text.esc(f"New site {row['rank']}: {row.get('lsoa21_name', '')} (+{row['children_gained']:,.0f} "
                       "children within reach)")
        folium.Circle([lat, lon], radius=radius_km * 1000, color="#000000", weight=1.5, dash_array="6 4",
                      fill=False, tooltip=tip).add_to(m)
        folium.Marker(
            [lat, lon], tooltip=tip,
            icon=folium.DivIcon(
                html=f'<div style="background:#000;color:#fff;border:2px solid #fff;border-radius:50%;width:24px;'
                     f'height:24px;line-height:20px;text-align:center;font:bold 13px sans-serif">'
                     f'{int(row["rank"])}</div>',
                icon_size=(24, 24), icon_anchor=(12, 12)),
        ).add_to(m)


def _bounds(gj: dict) -> list[list[float]] | None:
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for cc in c:
                walk(cc)

    for f in gj["features"]:
        walk(f["geometry"]["coordinates"])
    return [[min(ys), min(xs)], [max(ys), max(xs)]] if xs else None


def authority_map(boundaries: gpd.GeoDataFrame, measures: pd.DataFrame, measure: Measure, *, radius_km: float,
                  services: pd.DataFrame, sites: pd.DataFrame | None = None,
                  outline: gpd.GeoDataFrame | None = None) -> tuple[folium.Map, Classes]:
    """Choropleth of one authority's LSOAs (rows of access.lsoa_measures), its services and new sites."""
    classes = classify(measures[measure.column], measure, radius_km)
    gj = lsoa_features(boundaries, measures, measure, classes)
    b = _bounds(gj)
    centre = [(b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2] if b else [52.5, -1.5]
    m = base_map(centre[0], centre[1], zoom=11)
    folium.GeoJson(
        gj, name="Neighbourhoods", style_function=_style, highlight_function=_highlight,
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "value", "decile", "under5", "children", "km"],
            aliases=["Neighbourhood (LSOA)", measure.label, "IMD decile", "Children under 5", "Children aged 0-15",
                     "Nearest service"],
            sticky=True, style=TOOLTIP_STYLE),
    ).add_to(m)
    if outline is not None and len(outline):
        folium.GeoJson(rounded_geojson(outline.geometry.union_all(), 4), name="Boundary",
                       style_function=lambda f: {"fill": False, "color": "#000000", "weight": 2},
                       interactive=False).add_to(m)
    add_services(m, services)
    if sites is not None and len(sites):
        add_sites(m, sites, radius_km)
    Legend(f"{measure.label} ({measure.unit})", classes.legend()).add_to(m)
    if b:  # quarter zoom steps fit the area snugly
        m.options["zoom_snap"] = 0.25
        m.fit_bounds(b)
    return finish(m), classes


def england_map(boundaries: gpd.GeoDataFrame, table: pd.DataFrame, measure: Measure, *, radius_km: float,
                services: pd.DataFrame, sites: pd.DataFrame | None = None, kind: str = "utla",
                max_markers: int = 1500, fit: bool = False) -> tuple[folium.Map, Classes]:
    """England (or a large area: `fit` zooms to the rows of `table`) as its areas of `kind` (rows of
    area_values), with services as points and new sites."""
    k = area_kinds.kind(kind)
    if measure.aggregate == "share_deprived":  # a share of children: more is worse, so reds
        classes = classify(table["value"], replace(measure, colours=tuple(REDS)), radius_km, decimals=0,
                           scale="quantile")
    else:
        classes = classify(table["value"], measure, radius_km, unit=measure.area_unit,
                           decimals=max(measure.decimals, 1) if measure.aggregate != "sum" else 0,
                           scale="quantile" if measure.scale == "count" else None)
    gj = area_features(boundaries, table, measure, classes, kind)
    m = base_map(52.8, -1.6, zoom=6)
    folium.GeoJson(
        gj, name=k.plural, style_function=_style, highlight_function=_highlight,
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "value", "under5", "children", "gap", "km"],
            aliases=[k.label, measure.area_label, "Children under 5", "Children aged 0-15",
                     "Deprived children far from support", "Average distance to nearest service"],
            sticky=True, style=TOOLTIP_STYLE),
    ).add_to(m)
    add_services(m, services, max_markers)
    if sites is not None and len(sites):
        add_sites(m, sites, radius_km)
    Legend(f"{measure.area_label} ({measure.area_unit})", classes.legend()).add_to(m)
    b = _bounds(gj) if fit else None
    m.fit_bounds(b or [[49.9, -5.8], [55.8, 1.8]])
    return finish(m), classes


def page_bytes(m: folium.Map) -> int:
    """Size of the whole rendered map page (HTML + scripts + embedded GeoJSON), bytes."""
    return len(m.get_root().render().encode("utf-8"))

"""The walking-detour map: neighbourhoods whose walk to the nearest service is much longer than the
straight line (a railway, river, ring road or a fenced estate in the way). Folium, no Streamlit."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from . import text
from .choropleth import Legend, rounded_geojson
from .maps import add_services_near, base_map, finish

#: detour classes (walk / straight line): upper edges and colours (light to dark: worse)
DETOUR_EDGES = (1.2, 1.5, 2.0, 3.0, np.inf)
DETOUR_COLOURS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")
DETOUR_LABELS = ("under 1.2 (direct)", "1.2 to 1.5", "1.5 to 2", "2 to 3", "3 or more (cut off)")
NO_VALUE = "#d9d9d9"


def detour_colour(v) -> str:
    if v is None or not np.isfinite(v):
        return NO_VALUE
    return DETOUR_COLOURS[int(np.searchsorted(DETOUR_EDGES, v, side="right").clip(0, len(DETOUR_EDGES) - 1))]


def detour_map(boundaries: gpd.GeoDataFrame, walks: pd.DataFrame, services: pd.DataFrame | None = None,
               within_min: float = 20) -> folium.Map:
    """LSOAs (rows of `walks`: lsoa21_code, lsoa21_name, imd_decile, nearest_walk_km, nearest_km,
    walk_detour, n_walk_within) coloured by walk_detour; tooltips escaped."""
    gdf = boundaries.merge(walks, on="lsoa21_code", how="inner")
    feats = []
    for r in gdf.itertuples():
        det = float(r.walk_detour) if pd.notna(r.walk_detour) else np.nan
        feats.append({"type": "Feature", "geometry": rounded_geojson(r.geometry), "properties": {
            "f": detour_colour(det),
            "name": text.esc(r.lsoa21_name),
            "detour": f"{det:.2f}" if np.isfinite(det) else "not known",
            "walk": f"{r.nearest_walk_km:.2f} km" if pd.notna(r.nearest_walk_km) else "not known",
            "line": f"{r.nearest_line_km:.2f} km" if pd.notna(r.nearest_line_km) else "not known",
            "within": "" if pd.isna(r.n_walk_within) else f"{int(r.n_walk_within)}",
            "decile": "" if pd.isna(r.imd_decile) else f"{int(r.imd_decile)}",
        }})
    gj = {"type": "FeatureCollection", "features": feats}
    if len(gdf):
        x0, y0, x1, y1 = gdf.total_bounds
        m = base_map((y0 + y1) / 2, (x0 + x1) / 2, zoom=12)
        m.options["zoom_snap"] = 0.25
        m.fit_bounds([[y0, x0], [y1, x1]])
    else:
        m = base_map(52.9, -1.2, zoom=7)
    folium.GeoJson(
        gj, name="Neighbourhoods",
        style_function=lambda f: {"fillColor": f["properties"]["f"], "color": "#555555", "weight": 0.5,
                                  "fillOpacity": 0.75},
        highlight_function=lambda f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "detour", "walk", "line", "within", "decile"],
            aliases=["Neighbourhood (LSOA)", "Walk / straight line", "Walk to the nearest service",
                     "Straight line to it", f"Services within {within_min:g} min walk", "IMD decile"],
            sticky=True, style="font-size: 12px; padding: 4px 6px;"),
    ).add_to(m)
    if services is not None and len(services):
        add_services_near(m, services, gdf.total_bounds if len(gdf) else None)
    Legend("Walk ÷ straight line to the nearest service",
           list(zip(DETOUR_COLOURS, DETOUR_LABELS)) + [(NO_VALUE, "not known")]).add_to(m)
    return finish(m)

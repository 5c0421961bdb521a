"""Folium map builders, and serving Leaflet from the app itself.

Map scripts: with FSM_MAP_ASSETS=local (or "auto" when the files are present)
Leaflet and jQuery are served by Streamlit from static/vendor/ (copied from
Debian's libjs-leaflet / libjs-jquery packages by `install_local_assets`), so
maps work with no CDN: offline machines, and no third-party script requests for
families. "cdn" keeps folium's CDN links. Tiles always come from
OpenStreetMap, with attribution; offline the background stays grey.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import branca
import folium
import jinja2
import pandas as pd
import xyzservices

from . import config, text
from .taxonomy import TERMS

VENDOR = config.STATIC_DIR / "vendor"
#: Streamlit serves <app>/static/ at /app/static/ when enableStaticServing is on.
STATIC_URL = "/app/static/vendor"

#: file we serve -> where Debian installs it
DEBIAN_FILES = {
    "leaflet/leaflet.js": "/usr/share/javascript/leaflet/leaflet.js",
    "leaflet/leaflet.css": "/usr/share/javascript/leaflet/leaflet.css",
    "leaflet/leaflet.markercluster.js": "/usr/share/javascript/leaflet/leaflet.markercluster.js",
    "leaflet/MarkerCluster.css": "/usr/share/javascript/leaflet/MarkerCluster.css",
    "leaflet/MarkerCluster.Default.css": "/usr/share/javascript/leaflet/MarkerCluster.Default.css",
    "jquery/jquery.min.js": "/usr/share/javascript/jquery/jquery.min.js",
}
#: CDN file name folium asks for -> our local file
LOCAL_BY_NAME = {
    "leaflet.js": "leaflet/leaflet.js",
    "leaflet.css": "leaflet/leaflet.css",
    "leaflet.markercluster.js": "leaflet/leaflet.markercluster.js",
    "MarkerCluster.css": "leaflet/MarkerCluster.css",
    "MarkerCluster.Default.css": "leaflet/MarkerCluster.Default.css",
    "jquery-3.7.1.min.js": "jquery/jquery.min.js",
}

OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
#: OpenStreetMap's standard tiles, looked up once: given the name, folium searches all of xyzservices' providers
#: for every map it draws.
OSM_TILES = xyzservices.providers.query_name("OpenStreetMap Mapnik")

TYPE_COLOURS = dict(zip(
    [t.code for t in TERMS],
    ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
     "#1f78b4", "#b2182b", "#6a3d9a", "#01665e", "#2166ac"],
))


def install_local_assets(vendor: Path = VENDOR) -> bool:
    """Copy Leaflet and jQuery from Debian's packages into static/vendor (dereferencing
    symlinks). Returns True when every file is in place."""
    ok = True
    for rel, src in DEBIAN_FILES.items():
        dest = vendor / rel
        if dest.exists():
            continue
        if Path(src).exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(src).resolve(), dest)
        else:
            ok = False
    return ok


def use_local_assets() -> bool:
    mode = config.map_assets()
    if mode == "cdn":
        return False
    present = all((VENDOR / rel).exists() for rel in DEBIAN_FILES) or install_local_assets()
    return present if mode == "auto" else True


def localise(m: folium.Map) -> folium.Map:
    """Point every script and stylesheet of the map at our own copies; drop the ones
    we have no copy of (Bootstrap, Font Awesome: our maps don't use them)."""

    def swap(links):
        out = []
        for name, url in links:
            local = LOCAL_BY_NAME.get(url.rsplit("/", 1)[-1])
            if local:
                out.append((name, f"{STATIC_URL}/{local}"))
        return out

    def walk(el):
        yield el
        for child in getattr(el, "_children", {}).values():
            yield from walk(child)

    for el in walk(m):
        if hasattr(el, "default_js"):
            el.default_js = swap(el.default_js)
        if hasattr(el, "default_css"):
            el.default_css = swap(el.default_css)
    return m


_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>')
#: A visible focus ring on the map's controls, links and markers for keyboard users (WCAG 2.4.7).
FOCUS_CSS = ("<style>.leaflet-container a:focus-visible, .leaflet-container .leaflet-interactive:focus-visible,"
             " .leaflet-container:focus-visible { outline: 3px solid #1d6f5f; outline-offset: 2px; }</style>")


class Map(folium.Map):
    """folium's Map without its `maximum-scale=1.0, user-scalable=no` viewport: people must be able to zoom
    the page (WCAG 1.4.4; axe rule meta-viewport); and with a visible keyboard focus ring."""

    def render(self, **kwargs):
        super().render(**kwargs)
        header = self.get_root().header
        el = header._children.get(self.get_name())
        if el is not None:
            html = _VIEWPORT.sub('<meta name="viewport" content="width=device-width, initial-scale=1.0">', el.render())
            header.add_child(_Markup(html + FOCUS_CSS), name=self.get_name())


class _Markup(branca.element.Element):
    """Fixed markup for the page header, with no template to compile (maps are rendered several times)."""

    def __init__(self, html: str):
        super().__init__()
        self.html = html

    def render(self, **kwargs) -> str:
        return self.html


def base_map(lat: float, lon: float, zoom: int = 13) -> folium.Map:
    return Map(
        location=[lat, lon],
        zoom_start=zoom,
        tiles=OSM_TILES,
        attr=OSM_ATTRIBUTION,
        control_scale=True,
        prefer_canvas=False,
    )


def finish(m: folium.Map) -> folium.Map:
    return localise(m) if use_local_assets() else m


def search_map(origin, radius_km: float, results: pd.DataFrame, rows: list[dict] | None = None) -> folium.Map:
    """The family map: where they searched from, the radius, and one numbered marker per service.
    `rows`: `results.to_dict("records")` when the caller has made it already (~10 ms for 47 columns)."""
    m = base_map(origin.lat, origin.lon)
    rows = results.to_dict("records") if rows is None else rows
    Circles([
        {"at": [origin.lat, origin.lon], "metres": True, "tooltip": text.esc(f"{radius_km:g} km around your search"),
         "style": {"radius": radius_km * 1000, "color": "#1d6f5f", "weight": 2, "fill": True, "fillOpacity": 0.05}},
        {"at": [origin.lat, origin.lon], "tooltip": text.esc(f"You searched: {origin.label}"),
         "style": {"radius": 7, "color": "#000", "weight": 2, "fill": True, "fillColor": "#fff", "fillOpacity": 1}},
    ] + [
        {"at": [row["lat"], row["lon"]], "tooltip": text.esc(f"{i}. {row['name']} ({row['distance_km']:.1f} km)"),
         "popup": text.details_html(row),
         "style": {"radius": 9, "color": "#fff", "weight": 2, "fill": True, "fillOpacity": 0.95,
                   "fillColor": TYPE_COLOURS.get((row.get("types") or ["?"])[0], "#555")}}
        for i, row in enumerate(rows, start=1)
    ]).add_to(m)
    pts = [[origin.lat, origin.lon]] + results[["lat", "lon"]].values.tolist()
    dlat = radius_km / 111.0
    dlon = radius_km / (111.0 * max(0.2, math.cos(math.radians(origin.lat))))
    lats = [p[0] for p in pts] + [origin.lat - dlat, origin.lat + dlat]
    lons = [p[1] for p in pts] + [origin.lon - dlon, origin.lon + dlon]
    m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    return finish(m)


class Circles(folium.MacroElement):
    """Circles with a tooltip and maybe a popup (escaped HTML, as given), drawn by one loop in the browser
    from a JSON list: each a Leaflet circleMarker (radius in pixels) or, with "metres", a circle (radius in
    metres), with its Leaflet path options in "style". The same layers as folium's Circle/CircleMarker with a
    Tooltip and a Popup, but one element instead of up to four per circle: those cost about 15 ms each to
    build and render, 0.8 s of server time for a list of 50. st_folium reports a click on any of them."""

    _template = jinja2.Template("""
{% macro script(this, kwargs) %}
    var {{ this.get_name() }} = {{ this.json }};
    {{ this.get_name() }}.forEach(function (c) {
        var layer = (c.metres ? L.circle : L.circleMarker)(c.at, c.style)
            .bindTooltip("<div>" + c.tooltip + "</div>", {sticky: true});
        if (c.popup) {
            layer.bindPopup('<div style="width: 100.0%; height: 100.0%;">' + c.popup + "</div>", {maxWidth: 320});
        }
        layer.addTo({{ this._parent.get_name() }});
    });
{% endmacro %}
""")

    def __init__(self, circles: list[dict]):
        super().__init__()
        self._name = "Circles"
        # every "<" written \\u003c: no text can end the <script> the list sits in (the texts are escaped already)
        self.json = json.dumps(circles, default=float).replace("<", "\\u003c")

    def render(self, **kwargs):
        # the script as it is: folium's MacroElement would compile the rendered script as a template once more
        # (slow for a long list, and a "{{" in a service's text would be evaluated)
        self.get_root().script.add_child(_Markup(self._template.module.script(self, kwargs)), name=self.get_name())


def clicked_service(results: pd.DataFrame, clicked: dict | None, tolerance_deg: float = 1e-5) -> str | None:
    """The service_id of the marker a user clicked (st_folium's last_object_clicked), or None."""
    if not clicked or results.empty or clicked.get("lat") is None:
        return None
    d = (results.lat - clicked["lat"]).abs() + (results.lon - clicked["lng"]).abs()
    i = d.idxmin()
    return results.at[i, "service_id"] if d[i] <= tolerance_deg else None


def add_services_near(m: folium.Map, services: pd.DataFrame, bounds=None, pad_deg: float = 0.02) -> int:
    """Small dark circles for the services inside lon/lat `bounds` (xmin, ymin, xmax, ymax), escaped
    names in tooltips. Returns how many were drawn."""
    s = services
    if bounds is not None:
        x0, y0, x1, y1 = bounds
        s = s[s.lon.between(x0 - pad_deg, x1 + pad_deg) & s.lat.between(y0 - pad_deg, y1 + pad_deg)]
    for row in s.head(1500).to_dict("records"):
        folium.CircleMarker([round(float(row["lat"]), 5), round(float(row["lon"]), 5)], radius=5, color="#ffffff",
                            weight=1.5, fill=True, fill_color="#08306b", fill_opacity=1.0,
                            tooltip=text.esc(row.get("name") or "Service")).add_to(m)
    return min(len(s), 1500)

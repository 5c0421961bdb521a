"""Text from the directory never becomes markup: a service named like a script attack stays text."""

import pandas as pd

from directory import maps, text
from directory.geocode import Location

EVIL = "<script>alert(1)</script>"


def _row(**kw):
    row = dict(service_id="x", name=EVIL, types=["stay_and_play"], lat=52.7, lon=-2.52, x=364968.0, y=311472.0,
               address='"><img src=x onerror=alert(2)>', town="Telford & Wrekin", postcode="TF1 1AA",
               phone="01952 000000", email="a@b.org", url="javascript:alert(3)", fees="**free** [x](javascript:1)",
               is_free=None, referral="self", referral_notes=None, min_age_months=None, max_age_months=None,
               pregnancy=False, eligibility=None, schedule="Tue 10:00-11:30", languages=None, organization=EVIL,
               last_verified=None, source="test", distance_km=0.5, walk_min=6.0)
    row.update(kw)
    return row


def test_popup_html_is_escaped():
    html = text.details_html(_row())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert 'href="javascript' not in html and "Website" not in html  # unsafe website dropped, not linked
    assert "Telford &amp; Wrekin" in html


def test_markdown_is_escaped():
    md = text.details_markdown(_row())
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "](javascript" not in md
    assert "\\*\\*free\\*\\*" in md  # markdown in the data is shown, not rendered
    assert text.md("[x](javascript:1)") == "\\[x\\]\\(javascript\\:1\\)"


def test_map_tooltip_and_popup_are_escaped(monkeypatch):
    monkeypatch.setenv("FSM_MAP_ASSETS", "cdn")
    origin = Location(label=EVIL, x=364968.0, y=311472.0, lon=-2.519838, lat=52.699797, precision="postcode")
    m = maps.search_map(origin, 2.0, pd.DataFrame([_row()]))
    html = m.get_root().render()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_safe_urls():
    assert text.safe_url("javascript:alert(1)") is None
    assert text.safe_url("data:text/html,hi") is None
    assert text.safe_url("www.telford.gov.uk/families") == "https://www.telford.gov.uk/families"
    assert text.safe_url("https://www.northlincs.gov.uk/") == "https://www.northlincs.gov.uk/"


def test_local_map_assets_replace_cdn_links(monkeypatch):
    monkeypatch.setenv("FSM_MAP_ASSETS", "local")
    origin = Location(label="TF1 1AA", x=364968.0, y=311472.0, lon=-2.519838, lat=52.699797, precision="postcode")
    m = maps.search_map(origin, 2.0, pd.DataFrame([_row(name="Oakengates")]))
    links = [url for el in [m] for _, url in el.default_js + el.default_css]
    assert links and all(u.startswith("/app/static/vendor/") for u in links)
    assert any(u.endswith("leaflet.js") for u in links) and any(u.endswith("jquery.min.js") for u in links)
    for u in links:  # every served file exists (copied from Debian's packages)
        assert (maps.VENDOR / u.removeprefix("/app/static/vendor/")).exists()


def test_template_syntax_in_a_name_stays_text(monkeypatch):
    # folium renders each map element's script as a Jinja template a second time: text must not reach it as code
    monkeypatch.setenv("FSM_MAP_ASSETS", "cdn")
    origin = Location(label="TF1 1AA", x=364968.0, y=311472.0, lon=-2.519838, lat=52.699797, precision="postcode")
    name = "Hub {{ 7*7 }} {% raw %} {# x"
    row = _row(name=name)
    m = maps.search_map(origin, 2.0, pd.DataFrame([row]))
    html = m.get_root().render()  # no TemplateSyntaxError from the unclosed raw block or comment
    assert "Hub 49" not in html
    assert text.esc(name) == "Hub &#123;&#123; 7*7 &#125;&#125; &#123;% raw %&#125; &#123;# x"
    assert html.count("Hub &#123;&#123; 7*7 &#125;&#125;") == 2  # its tooltip and its popup
    # the same on an area map's service dots (a folium CircleMarker with a Tooltip)
    area = maps.base_map(52.7, -2.52)
    maps.add_services_near(area, pd.DataFrame([row]))
    html = area.get_root().render()
    assert "Hub 49" not in html and "Hub &#123;&#123; 7*7 &#125;&#125;" in html

"""Safe text: every string from the directory or an upload passes through here
before it reaches HTML (map popups, tooltips) or Markdown (the results list).

Also the one place that turns a service row into the details families read,
so the list and the map popup always say the same thing.
"""

from __future__ import annotations

import html
import re
from datetime import date
from html.parser import HTMLParser
from urllib.parse import quote, urlparse

import pandas as pd

from . import taxonomy


def is_blank(v) -> bool:
    """None, NaN, pd.NA, an empty or blank string, an empty list."""
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    if isinstance(v, (list, tuple)):
        return not v
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


#: Braces as character references too: folium compiles each map element's rendered script as a Jinja
#: template once more, so a service named "{{ 7*7 }}" showed as "49" on a map (and any template code
#: would run on the server). The browser shows them as the same braces.
_BRACES = str.maketrans({"{": "&#123;", "}": "&#125;"})


def esc(v) -> str:
    """HTML-escaped text ('' for missing values), braces included (see _BRACES)."""
    return "" if is_blank(v) else html.escape(str(v), quote=True).translate(_BRACES)


def md(v) -> str:
    """Text shown literally by Streamlit Markdown: specials backslash-escaped, HTML angle
    brackets and ampersands as entities, newlines as spaces."""
    if is_blank(v):
        return ""
    s = " ".join(str(v).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~$:])", r"\\\1", s)


def safe_url(url) -> str | None:
    """The URL if it is http(s) (never javascript: or data:), else None."""
    if is_blank(url):
        return None
    u = str(url).strip()
    if not re.match(r"^https?://", u, re.I):
        u = "https://" + u if re.match(r"^[\w.-]+\.[a-z]{2,}(/|$)", u, re.I) else ""
    parsed = urlparse(u)
    return u if parsed.scheme in ("http", "https") and parsed.netloc else None


def directions_url(lat: float, lon: float) -> str:
    """Directions to the service from wherever the family is (their phone knows):
    only the destination is in the link, never the searched postcode."""
    return f"https://www.google.com/maps/dir/?api=1&destination={lat:.6f}%2C{lon:.6f}&travelmode=walking"


def osm_url(lat: float, lon: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


REFERRAL_TEXT = {
    "self": "Self-referral: you can contact them directly",
    "professional": "Referral by a professional (e.g. GP, midwife, health visitor)",
    "both": "Self-referral or referral by a professional",
}


def walk_text(minutes: float) -> str:
    """'about 12 min walk'; beyond an hour and a half, walking is not a realistic suggestion."""
    if minutes < 1:
        return "under 1 min walk"
    if minutes <= 90:
        return f"about {minutes:.0f} min walk"
    return "too far to walk"


def cost_text(is_free, fees) -> str:
    if is_free is True:
        return "Free" + (f" ({fees})" if not is_blank(fees) else "")
    if not is_blank(fees):
        return str(fees)
    if is_free is False:
        return "There is a charge: ask the service"
    return "Not stated: ask the service"


def address_text(row) -> str:
    parts = [row.get(k) for k in ("location_name", "address", "town", "postcode")]
    seen, out = set(), []
    for p in parts:
        if not is_blank(p) and str(p) not in seen:
            seen.add(str(p))
            out.append(str(p))
    if is_blank(row.get("address")) and is_blank(row.get("postcode")) and not is_blank(row.get("area")):
        out.append(f"in {row['area']}")
    return ", ".join(out) or "Address not published: contact the service"


#: what families read about a point that is not the building itself
PRECISION_TEXT = {
    "postcode": "postcode centre (not the exact building)",
    "sector": "postcode sector, about 1 km (not the exact building)",
}


def precision_text(precision) -> str | None:
    """'postcode centre (not the exact building)' etc.; None for a building's own point."""
    return None if is_blank(precision) else PRECISION_TEXT.get(str(precision))


def details(row) -> list[tuple[str, str, str | None]]:
    """(label, plain text, link) for one service row: what families need to decide and go. A service
    without a building (no point; `service_areas` instead) says where it is available, and has no
    directions."""
    located = not is_blank(row.get("lat")) and not is_blank(row.get("lon"))
    verified = row.get("last_verified")
    out = [
        ("Type", ", ".join(taxonomy.label(t) for t in row.get("types") or []) or "Not stated", None),
        ("Address", address_text(row), None) if located else ("Where", NO_BUILDING_TEXT, None),
        *([] if located else [("Available to", available_text(row.get("service_areas")), None)]),
        *([("Location", precision_text(row.get("precision")), None)] if precision_text(row.get("precision")) else []),
        *([("Linked site of", str(row["part_of"]), None)] if not is_blank(row.get("part_of")) else []),
        ("Who it is for", taxonomy.who_for(row.get("min_age_months"), row.get("max_age_months"),
                                           bool(row.get("pregnancy")), row.get("types"))
         + (f". {row['eligibility']}" if not is_blank(row.get("eligibility")) else ""), None),
        ("Cost", cost_text(None if is_blank(row.get("is_free")) else bool(row["is_free"]), row.get("fees")), None),
        ("How to get referred", REFERRAL_TEXT.get(row.get("referral"), "Not stated: ask the service")
         + (f". {row['referral_notes']}" if not is_blank(row.get("referral_notes")) else ""), None),
        ("Opening times", row.get("schedule") if not is_blank(row.get("schedule")) else "Not stated: ask the service",
         None),
    ]
    if not is_blank(row.get("phone")):
        out.append(("Phone", str(row["phone"]), "tel:" + re.sub(r"[^0-9+]", "", str(row["phone"]))))
    if not is_blank(row.get("email")):
        out.append(("Email", str(row["email"]), "mailto:" + quote(str(row["email"]), safe="@.+-_")))
    if safe_url(row.get("url")):
        out.append(("Website", str(row["url"]), safe_url(row["url"])))
    if not is_blank(row.get("languages")):
        out.append(("Languages", str(row["languages"]), None))
    if not is_blank(row.get("organization")):
        out.append(("Run by", str(row["organization"]), None))
    out.append(("Last verified", f"{verified:%d %B %Y}" if isinstance(verified, date) else "Not recorded", None))
    out.append(("Source", str(row.get("source") or ""), None))
    if located:
        lat, lon = float(row["lat"]), float(row["lon"])
        out.append(("Directions", "Directions (opens Google Maps)", directions_url(lat, lon)))
        out.append(("Map", "View on OpenStreetMap", osm_url(lat, lon)))
    return out


NO_BUILDING_TEXT = "No building to visit: by phone, online or at home"


def available_text(codes) -> str:
    """'Families in Telford and Wrekin', 'Families anywhere in England' (a service without a building)."""
    from . import service_areas

    codes = [] if is_blank(codes) else list(codes)
    local = [service_areas.label(c) for c in codes if c != service_areas.ENGLAND]
    if service_areas.ENGLAND in codes:
        return "Families anywhere in England"
    return f"Families in {', '.join(local)}" if local else "Not stated: ask the service"


def details_html(row) -> str:
    """The popup body: every value escaped, links only to http(s), tel: and mailto:."""
    lines = [f"<b>{esc(row['name'])}</b>"]
    for label, text, link in details(row):
        value = f'<a href="{esc(link)}" target="_blank" rel="noopener">{esc(text)}</a>' if link else esc(text)
        lines.append(f"<b>{esc(label)}:</b> {value}")
    return "<br>".join(lines)


def details_markdown(row) -> str:
    """The list entry body for st.markdown: every value escaped, links only to safe URLs."""
    lines = []
    for label, text, link in details(row):
        value = f"[{md(text)}]({link.replace(')', '%29').replace(' ', '%20')})" if link else md(text)
        lines.append(f"**{md(label)}:** {value}")
    return "  \n".join(lines)


# ---------------------------------------------------------------- HTML in, text out

_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section",
               "blockquote", "pre", "hr"}


class _TextOf(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def looks_like_html(v) -> bool:
    return isinstance(v, str) and bool(_MARKUP.search(v))


def html_to_text(v) -> str | None:
    """Plain text of an HTML fragment (feeds publish descriptions as HTML): tags dropped,
    script and style content dropped, entities decoded, one line per paragraph.
    Text that has no markup is returned as it is."""
    if is_blank(v):
        return None
    if not looks_like_html(v):
        return str(v).strip() or None
    p = _TextOf()
    p.feed(str(v))
    p.close()
    lines = (" ".join(line.replace("\xa0", " ").split()) for line in "".join(p.parts).split("\n"))
    out = "\n".join(line for line in lines if line)
    return out or None


# ---------------------------------------------------------------- spreadsheets and control characters
#
# Every CSV and XLSX the project writes passes its text cells through `spreadsheet_safe`
# (or `spreadsheet_safe_frame` for a whole table): a cell that starts with = + - @, a tab or a
# carriage return is read by Excel, LibreOffice and Google Sheets as a formula (OWASP "CSV
# Injection": =HYPERLINK(...) phishing links, =cmd|'/c calc'!A0 DDE payloads). Such cells get a
# leading single quote, which spreadsheets read as "this is text". A cell that already starts
# with a quote gets one more, so `spreadsheet_unescape` gives back exactly what was written.
# Numbers stay numbers: int and float values are never touched, and neither is text that is
# a plain number ("-2.5198", "+44"), which a spreadsheet reads as that number, not a formula.
# XLSX writers store such cells as text with Excel's own (hidden) quote prefix instead:
# `formula_like` says which.

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def formula_like(value) -> bool:
    """True for text a spreadsheet would read as a formula (or a quote-escaped cell)."""
    return (isinstance(value, str) and value.startswith(_FORMULA_START + ("'",))
            and not _PLAIN_NUMBER.match(value))


def spreadsheet_safe(value):
    """One cell for a CSV file: text that could run as a formula gets a leading ', anything
    else (numbers, dates, None, plain text) is returned as it is."""
    return "'" + value if formula_like(value) else value


def spreadsheet_unescape(value):
    """The inverse of `spreadsheet_safe` for our own files, also right for a user's spreadsheet:
    one leading quote is dropped only when what follows would otherwise be escaped
    ("'=SUM(A1)" -> "=SUM(A1)", "'+44 1952 000000" -> "+44 1952 000000"; "'hello" stays)."""
    if isinstance(value, str) and value.startswith("'") and formula_like(value[1:]):
        return value[1:]
    return value


def safe_csv(df: pd.DataFrame, **to_csv) -> str:
    """The CSV text of a table with every text cell spreadsheet-safe (no index unless asked)."""
    return spreadsheet_safe_frame(df).to_csv(**({"index": False} | to_csv))


def spreadsheet_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with `spreadsheet_safe` applied to every text cell (numeric, boolean
    and date columns untouched; text inside object columns of mixed values too)."""
    out = df
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype) \
                or pd.api.types.is_datetime64_any_dtype(s.dtype):
            continue
        risky = s.map(formula_like).astype(bool)
        if risky.any():
            if out is df:
                out = df.copy()
            out[c] = s.astype(object).where(~risky, "'" + s[risky].astype(str))
    return out


#: What `strip_controls` removes: C0 controls except tab and line feed (NUL, BEL, ESC...), DEL and
#: C1 controls (never text), and the Unicode bidirectional controls that reorder what is displayed
#: (Trojan Source, CVE-2021-42574): embeddings and overrides U+202A-U+202E, isolates
#: U+2066-U+2069, and the invisible marks U+200E LRM, U+200F RLM and U+061C ALM. The marks are
#: removed too: they are never needed in a service's name, phone or email, and a mark next to
#: digits reorders them on screen ("0800 123 456" can display as "456 123 0800"). Text in
#: Arabic, Urdu or Hebrew displays correctly without them (the letters carry their direction).
#: Carriage returns are line breaks, not hostile: CR LF and a lone CR become LF (not counted).
CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip_controls(s) -> tuple:
    """(clean text, how many characters were removed). Non-text values come back as they are, with 0."""
    if not isinstance(s, str):
        return s, 0
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    clean, n = CONTROL_CHARS.subn("", s)
    return clean, n


def describe_controls(n: int) -> str:
    """The warning an importer gives for a field it cleaned."""
    return (f"Removed {n} control character{'s' if n != 1 else ''} (NUL, other control codes or bidirectional "
            "text controls that can disguise what is displayed).")

"""A shortlist (/shortlist?ids=...): the services someone ticked, on a clean page to print (A4, large
text, no map) or send. The link carries only the services chosen, and the searched place only when the
person kept it in (then each entry shows its distance from there)."""

from datetime import date

import numpy as np
import pandas as pd
import streamlit as st

import ui
from directory import shortlist, text
from directory.config import WALKING_KMH
from directory.geocode import LocateError, locate

services = ui.services()
ids, q = shortlist.decode(st.query_params)
if not ids and ui.shortlist():  # opened from the menu or a bookmark: this session's ticks
    ids = ui.shortlist()[: shortlist.MAX_SERVICES]
    st.query_params.from_dict(shortlist.encode(ids, q))

chosen = services[services.service_id.isin(ids)]
no_building = ui.area_services()  # phone, online, home visits: no distance
if no_building.service_id.isin(ids).any():
    chosen = pd.concat([chosen, no_building[no_building.service_id.isin(ids)]], ignore_index=True)
chosen = chosen.assign(_order=chosen.service_id.map({s: i for i, s in enumerate(ids)})).sort_values(
    ["_order", "name"], kind="stable")

st.title("Shortlist of family support", anchor=False)
if chosen.empty:
    st.info("No services on this shortlist (any in the link may have closed since it was made). Tick "
            "“Shortlist” on the services you want in Find support.")
    st.markdown("[Find support near you](./)")
    ui.footer()
    st.stop()

origin = None
if q:
    try:
        origin = locate(q, ui.areas().postcodes, ui.areas().places)
    except LocateError:
        origin = None
if origin is not None:
    d_km = np.hypot(chosen.x - origin.x, chosen.y - origin.y) / 1000.0
    chosen = chosen.assign(distance_km=d_km, walk_min=d_km / WALKING_KMH * 60)

n_services = chosen.service_id.nunique()
missing = len(ids) - n_services
st.write(
    f"{n_services} service{'s' if n_services != 1 else ''}"
    + (f", with straight-line distances from {text.md(origin.label)}" if origin is not None else "")
    + f". Made with Family Support Map on {date.today():%d %B %Y}: please check with each service before going."
)
if missing > 0:
    st.caption(f"{missing} service{'s' if missing != 1 else ''} in the link {'are' if missing != 1 else 'is'} "
               "no longer in the directory.")

with st.container(key="no_print"):
    link = ui.absolute_url(shortlist.link(ids, q if origin is not None else None))
    st.write("Send this link: it opens this same list (it holds only the services chosen"
             + (f" and {text.md(origin.label)}" if origin is not None else ", not your postcode") + ").")
    st.code(link, language=None, wrap_lines=True)
    if origin is not None:
        st.markdown(f"[The same list without {text.md(origin.label)} in the link]({shortlist.link(ids)})")
    st.iframe(  # a real button; the page is ours (no directory text in it)
        '<!DOCTYPE html><html lang="en"><head><title>Print this list</title></head><body style="margin:0">'
        '<button type="button" onclick="window.parent.print()" style="font: 600 16px sans-serif; '
        'padding: 10px 18px; border: 2px solid #1d6f5f; border-radius: 6px; background: #1d6f5f; color: #fff; '
        'cursor: pointer">Print this list</button>'
        '<style>button:focus-visible{outline:3px solid #111418;outline-offset:2px}</style></body></html>',
        height=56, alt="Print this list",
    )

with st.container(key="shortlist_entries"):
    for n, row in enumerate(chosen.to_dict("records"), start=1):
        with st.container(key=f"shortlist_entry_{n}"):
            where = ""
            if origin is not None and not text.is_blank(row.get("lat")):
                where = f" · {row['distance_km']:.1f} km · {text.walk_text(row['walk_min'])}"
            st.subheader(f"{n}. {text.md(row['name'])}{where}", anchor=False)
            st.markdown(text.details_markdown(row))
            st.markdown(f"This service's page: {text.md(ui.absolute_url(shortlist.service_link(row['service_id'])))}")

ui.footer()

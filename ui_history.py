"""Streamlit glue for the "What changed since 2016" section of Provision gaps (directory.history)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from directory import config, history, text
from directory.area_kinds import ENGLAND_CODE, KINDS

LOST_ROWS_SHOWN = 50


@st.cache_resource(show_spinner="Comparing the versions of the children's centres register since 2016...")
def _history(raw: str, build_dir: str, radius_km: float):
    from ui import areas

    try:
        return history.load(config.raw_dir(raw), areas(), radius_km)
    except (FileNotFoundError, ValueError):
        return None


def section(kind: str, code: str, place: str, outline=None, radius_km: float = history.DEFAULT_RADIUS_KM) -> None:
    """`radius_km`: what "within reach" means (the page's own choice), for reach then and now."""
    st.subheader("What changed since 2016")
    h = _history(str(config.raw_dir()), str(config.build_dir()), float(radius_km))
    if h is None:
        st.info("The earlier versions of the DfE children's centres register are not in the raw data folder, so "
                "there is nothing to compare. Put the GIAS extracts (edubaseallchildrencentreYYYYMMDD.csv) there.")
        return
    level = "england" if code == ENGLAND_CODE else kind
    k = KINDS[level]
    st.warning(f"{history.FLOOR_NOTE} The DfE register (Get Information About Schools) is compared version by "
               f"version since {h.dates[0]:%d %B %Y}, matched by each centre's URN.")
    t = history.area_history(h.placed, h.reach, level, h.dates)
    row = t[t[f"{level}_code"] == (code if level != "england" else ENGLAND_CODE)].iloc[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(f"Centres listed {h.dates[0]:%b %Y}", f"{row.listed_then:,}")
    c2.metric(f"Listed {h.dates[-1]:%b %Y}", f"{row.listed_now:,}", f"{row.listed_now - row.listed_then:+,}",
              delta_color="normal")
    c3.metric("No longer listed", f"{row.no_longer_listed:,}", f"{row.newly_listed:,} newly listed",
              delta_color="off", delta_arrow="off")
    c4.metric(f"Under-5s with a listed centre within {radius_km:g} km", f"{row.under5_within_now:,.0f}",
              f"{row.under5_within_now - row.under5_within_then:+,.0f} since {h.dates[0]:%Y}", delta_color="normal",
              help=f"In {h.dates[0]:%B %Y}: {row.under5_within_then:,.0f}. In IMD deciles 1-2: "
                   f"{row.under5_imd1_2_within_then:,.0f} then, {row.under5_imd1_2_within_now:,.0f} now "
                   f"(of {row.under5_imd1_2:,.0f} under-5s there).")
    by = history.listed_by_version(h.versions, h.placed, level, code)
    long = pd.concat([
        pd.DataFrame({"Version": pd.to_datetime(by.version), "Area": place, "Index": by.area_index,
                      "Centres": by.area}),
        pd.DataFrame({"Version": pd.to_datetime(by.version), "Area": "England", "Index": by.england_index,
                      "Centres": by.england}),
    ]) if level != "england" else pd.DataFrame({"Version": pd.to_datetime(by.version), "Area": "England",
                                                "Index": by.england_index, "Centres": by.england})
    st.markdown(f"**Centres listed in each version, {text.md(place)} against England (first version = 100)**")
    chart = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("Version:T", title="Version of the register"),
        y=alt.Y("Index:Q", title="Listed (first version = 100)", scale=alt.Scale(zero=False)),
        color=alt.Color("Area:N", legend=alt.Legend(title=None), sort=[place, "England"],
                        scale=alt.Scale(range=["#1d6f5f", "#9a9a9a"])),
        tooltip=["Area", alt.Tooltip("Version:T", format="%d %b %Y"), "Centres",
                 alt.Tooltip("Index:Q", format=".1f")],
    ).properties(height=220)
    st.altair_chart(chart, width="stretch")
    with st.expander("Numbers behind the chart"):
        shown = by if level != "england" else by.drop(columns=["area", "area_index"])
        st.dataframe(shown.rename(columns={"version": "Version", "area": place, "england": "England",
                                           "area_index": f"{place} (index)", "england_index": "England (index)"}),
                     hide_index=True, width="stretch")
    m_col, l_col = st.columns([3, 2], gap="medium")
    with m_col:
        st.markdown("**Centres no longer listed (white with a dark-red ring) and still listed (green)**")
        st_folium(history.centres_map(h.placed, level, code, outline), key="pg_history_map", height=460,
                  use_container_width=True, returned_objects=[])
        st.caption("Each centre sits at its postcode's point. Hover a ring for the first version without it.")
    with l_col:
        lost = history.lost_reach(h.reach, level, code)
        st.markdown(f"**{len(lost):,} neighbourhoods lost reach** (a listed centre within {radius_km:g} km in "
                    f"{h.dates[0]:%Y}, none now), most deprived under-5s first")
        if lost.empty:
            st.success(f"No neighbourhood of {text.md(place)} lost its listed centre within reach.")
        else:
            show = lost.head(LOST_ROWS_SHOWN).rename(columns={
                "rank": "Rank", "lsoa21_name": "Neighbourhood", "ltla24_name": "District", "imd_decile": "IMD decile",
                "deprived_under5": "Deprived under-5s", "under5": "Under-5s", "nearest_now_km": "Nearest now (km)"})
            st.dataframe(show[["Rank", "Neighbourhood", "District", "IMD decile", "Deprived under-5s", "Under-5s",
                               "Nearest now (km)"]], hide_index=True, width="stretch", height=320,
                         column_config={c: st.column_config.NumberColumn(format="%.0f")
                                        for c in ("Deprived under-5s", "Under-5s")})
            st.download_button("Download the neighbourhoods that lost reach (CSV)", text.safe_csv(lost),
                               file_name=f"lost-reach-{level}-{code}-since-{h.dates[0]:%Y}.csv", mime="text/csv")
    un = h.unplaced
    if len(un):
        st.caption(f"{len(un)} centres could not be placed (their postcode is not in the postcode table, often a "
                   "retired one): they count in England's numbers only. `python -m directory centre-history` "
                   "lists them.")

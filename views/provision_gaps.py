"""Provision gaps: commissioners see where deprived young children are far from support."""

import hashlib

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

import ui
import ui_areas
import ui_history
from directory import access, area_kinds, choropleth, gapstate, taxonomy, text, under5, walking
from directory.choropleth import ENGLAND, MEASURES

GAP_ROWS_SHOWN = 100
#: The by-decile charts: under-5s first (the default demand), then all children, then income-deprived.
CHART_GROUPS = (("Children under 5", "under5"), ("All children 0-15", "children"), ("Income-deprived children", "idaci"))

st.title("Provision gaps")
st.write(
    "Where do many deprived young children live with little support nearby, and where would one more site "
    "help most? Pick your local authority (or England), the types of support and the distance families "
    "can reasonably travel."
)

areas = ui.areas()
services = ui.services()
units = areas.units
DEMAND_LABELS = {"under5": "Children under 5",
                 "children_0_15": "All children aged 0-15",
                 "idaci_numerator": "Income-deprived children (IDACI)"}
#: An area with more LSOAs than this (a region) is drawn by its upper-tier authorities, not its LSOAs.
MAX_LSOA_POLYGONS = 2500

# The URL is the view: fill the widgets from it when they have no value yet.
start = gapstate.decode(st.query_params, areas.unit_codes())
for key, value in {"pg_kind": start.kind, "pg_area": start.area, "pg_measure": start.measure,
                   "pg_types": start.types, "pg_radius": start.radius_km, "pg_deciles": start.max_decile,
                   "pg_demand": start.demand, "pg_k": start.k, "pg_walk": start.walk}.items():
    st.session_state.setdefault(key, value)

c1, c2 = st.columns(2)
kind_key, area_code = ui_areas.area_picker("pg", units, c1)
c2.selectbox("Measure on the map", list(MEASURES), key="pg_measure", format_func=lambda c: MEASURES[c].label)
with c2.expander("Options: types of support, distance, deprivation threshold, children counted, new sites"):
    o1, o2 = st.columns(2)
    o1.multiselect("Types of support", [t.code for t in taxonomy.TERMS], key="pg_types",
                   format_func=taxonomy.label, placeholder="All types")
    o1.select_slider("Within reach means within (straight line)", options=list(gapstate.RADII_KM), key="pg_radius",
                     format_func=lambda r: f"{r:g} km",
                     help="1.6 km (1 mile) is about 20 minutes' walk with a pram.")
    o1.toggle("Walk along mapped paths where OpenStreetMap covers the area", key="pg_walk",  # issue 15
              help="Distances follow streets and footpaths where an OpenStreetMap extract is loaded; straight "
                   "lines elsewhere.")
    o1.select_slider("Deprived means IMD deciles 1 to", options=list(range(1, 11)), key="pg_deciles",
                     help="Decile 1 is the most deprived 10% of neighbourhoods in England; 1 to 2 is the most "
                          "deprived 20%.")
    o2.radio("Children counted", list(DEMAND_LABELS), key="pg_demand", format_func=DEMAND_LABELS.get,
             help="Who the gap list, the new sites, the equity measures and the floating catchment measures "
                  "count. Under-5s by default: early-years support is for the children of new parents.")
    o2.slider("New sites to suggest", 0, gapstate.MAX_K, key="pg_k")

state = gapstate.GapState(
    area=area_code, measure=st.session_state.pg_measure, types=list(st.session_state.pg_types),
    radius_km=st.session_state.pg_radius, max_decile=st.session_state.pg_deciles,
    demand=st.session_state.pg_demand, k=st.session_state.pg_k, kind=kind_key, walk=st.session_state.pg_walk,
)
st.query_params.from_dict(gapstate.encode(state))
kind = area_kinds.KINDS[state.kind]
measure = MEASURES[state.measure]
r = state.radius_km
deciles = state.deciles
demand_words = {"idaci_numerator": "income-deprived children", "under5": "children under 5"}.get(
    state.demand, "children")
decile_words = "decile 1" if state.max_decile == 1 else f"deciles 1-{state.max_decile}"


def fingerprint(df: pd.DataFrame) -> str:
    """Changes whenever a service is added, moved, removed or retyped (the cache key of the measures)."""
    h = hashlib.sha1(pd.util.hash_pandas_object(df[["service_id", "x", "y"]], index=False).to_numpy().tobytes())
    h.update("|".join(",".join(t) for t in df["types"]).encode())
    h.update(df["capacity"].astype(str).str.cat().encode() if "capacity" in df else b"")
    return h.hexdigest()


@st.cache_data(show_spinner="Measuring access for every neighbourhood in England...", max_entries=24)
def england_measures(_services, _fp, types, radius_km, demand, deciles, walk=False) -> pd.DataFrame:
    net = ui.walking_network() if walk else None
    return access.lsoa_measures(ui.areas().lsoa, _services, types=types, radius_km=radius_km, demand=demand,
                                deciles=deciles, cost=walking.WalkingCost(net) if net is not None else None)


@st.cache_data(show_spinner="Looking for the best new sites...", max_entries=48)
def new_sites(_measures, _fp, code_column, area, types, radius_km, demand, deciles, k) -> pd.DataFrame:
    rows = _measures if area == ENGLAND else _measures[_measures[code_column] == area]
    return access.best_new_sites(rows, k=k, radius_km=radius_km, deciles=deciles, demand=demand)


@st.cache_resource(show_spinner=False, max_entries=32)
def lsoa_boundaries_of(code_column: str, area: str):
    b = areas.lsoa_boundaries
    return b[b.lsoa21_code.isin(areas.lsoa.lsoa21_code[areas.lsoa[code_column] == area])].reset_index(drop=True)


fp = fingerprint(services)
key = (tuple(state.types), r, state.demand, deciles)
measures = england_measures(services, fp, *key, walk=state.walk)
walked = int(measures["distance_basis"].eq("walk").sum())
distance_words = (f"walking along mapped paths for {walked:,} neighbourhoods (OpenStreetMap), in a straight line "
                  "elsewhere" if walked else "in a straight line")
pool = access.services_of_types(services, state.types)
is_england = state.area == ENGLAND
rows = measures if is_england else measures[measures[kind.code] == state.area].reset_index(drop=True)
name = ui_areas.area_name(units, state.kind, state.area)
place = "England" if is_england else name
sites = (new_sites(measures, fp, kind.code, state.area, *key, state.k) if state.k
         else access.best_new_sites(rows, k=0))
by_areas = is_england or len(rows) > MAX_LSOA_POLYGONS  # drawn as areas, not neighbourhoods
draw_kind = state.kind if is_england else "utla"

summary = access.coverage_summary(rows, radius_km=r, deciles=deciles, demand=state.demand).iloc[0]
england = access.coverage_summary(measures, radius_km=r, deciles=deciles, demand=state.demand).iloc[0]

types_words = ", ".join(taxonomy.label(t) for t in state.types) if state.types else "any type"
st.subheader(f"{place}: {(measure.area_label if by_areas else measure.label).lower()}")
st.caption(
    f"Support of {types_words} within {r:g} km {distance_words}; deprived = IMD 2025 {decile_words}; counting "
    f"{demand_words}. The directory holds {len(pool):,} service locations of these types in England"
    + (" (today the maintained nursery schools from DfE GIAS: a gap means no service in the directory within "
       "reach, which may not mean no support at all)" if len(services) and
       set(t for ts in services.types for t in ts) <= {"early_education"} else "")
    + "."
    + (f" Under-5s: {under5.label(under5.source_of(areas.lsoa))}." if state.demand == "under5" else "")
)
if len(pool) == 0:
    st.warning("No service in the directory offers these types yet, so every neighbourhood is far from support. "
               "Choose other types, or import the area's services first.")

# headline numbers, the area against England
m1, m2, m3, m4 = st.columns(4)


def pp(a, b):
    return None if is_england or pd.isna(a) or pd.isna(b) else f"{100 * (a - b):+.0f} points vs England"


m1.metric(f"Children under 5 within {r:g} km of a service", f"{summary.under5_within_share:.0%}",
          pp(summary.under5_within_share, england.under5_within_share),
          help=f"England: {england.under5_within_share:.0%}. All children aged 0-15: "
               f"{summary.children_within_share:.0%} here, {england.children_within_share:.0%} in England.")
m2.metric("Income-deprived children within reach", f"{summary.idaci_within_share:.0%}",
          pp(summary.idaci_within_share, england.idaci_within_share),
          help=f"England: {england.idaci_within_share:.0%}. Counts of income-deprived children are suppressed in "
               f"{int(summary.idaci_suppressed_lsoas)} small neighbourhoods here; they are left out of this share.")
m3.metric(f"Deprived {demand_words} far from support", f"{summary.gap_children:,.0f}",
          f"in {int(summary.gap_lsoas):,} neighbourhoods", delta_color="off", delta_arrow="off",
          help=f"Living in IMD {decile_words} with no service within {r:g} km.")
gained = float(sites.children_gained.sum()) if len(sites) else 0.0
m4.metric(f"With {len(sites)} new site{'s' if len(sites) != 1 else ''}",
          f"{summary.gap_children - gained:,.0f}", f"-{gained:,.0f} far from support" if gained else None,
          delta_color="inverse", help="Deprived children still far from support if the suggested sites opened.")

equity = access.equity(rows, radius_km=r, demand=state.demand).iloc[0]
england_equity = access.equity(measures, radius_km=r, demand=state.demand).iloc[0]


def share(v) -> str:
    return "no children" if pd.isna(v) else f"{v:.0%}"


e1, e2, e3 = st.columns(3)
e1.metric(f"Most deprived 20%: {demand_words} within reach", share(equity.within_share_imd1_2),
          help=f"IMD deciles 1-2. England: {share(england_equity.within_share_imd1_2)}.")
e2.metric(f"Least deprived 20%: {demand_words} within reach", share(equity.within_share_imd9_10),
          help=f"IMD deciles 9-10. England: {share(england_equity.within_share_imd9_10)}.")
ratio = equity.within_ratio_imd1_2_to_9_10
e3.metric("Equity: ratio and concentration index",
          "-" if pd.isna(ratio) else f"{ratio:.2f}",
          None if pd.isna(equity.concentration_index) else f"CI {equity.concentration_index:+.2f}",
          delta_color="off", delta_arrow="off",
          help="Ratio: the share within reach in the most deprived 20% divided by the share in the least deprived "
               "20% (above 1: deprived neighbourhoods are better served). CI: concentration index of being within "
               "reach over deprivation rank, -1 to 1; negative means reach is concentrated among the more "
               f"deprived {demand_words}, 0 equal. England: ratio "
               f"{'-' if pd.isna(england_equity.within_ratio_imd1_2_to_9_10) else f'{england_equity.within_ratio_imd1_2_to_9_10:.2f}'}"
               f", CI {england_equity.concentration_index:+.2f}. Formula: directory/access.py.")

map_col, side_col = st.columns([3, 2], gap="medium")
with map_col:
    if by_areas:
        dk = area_kinds.KINDS[draw_kind]
        table = choropleth.area_values(rows, measure, draw_kind, deciles=deciles, demand=state.demand)
        fmap, classes = choropleth.england_map(areas.boundaries(draw_kind), table, measure, radius_km=r,
                                               services=pool, sites=sites, kind=draw_kind, fit=not is_england)
        shown = min(len(pool), 1500)
        st.caption(
            f"{text.md(place)} is drawn as its {len(table):,} {text.md(dk.plural.split(' (')[0])}, each coloured by "
            f"{measure.area_label.lower()} ({measure.area_unit}); sending all {len(rows):,} neighbourhoods "
            "would make the page large and slow to draw. Choose an area to see its neighbourhoods"
            + (" (or another kind of area to draw England by it)." if is_england else ".")
            + (f" Showing {shown:,} of {len(pool):,} services." if shown < len(pool) else "")
        )
    else:
        near = choropleth.services_near(pool, rows, r)
        bounds = areas.boundaries(state.kind)
        outline = bounds[bounds[kind.code] == state.area]
        fmap, classes = choropleth.authority_map(lsoa_boundaries_of(kind.code, state.area), rows, measure,
                                                 radius_km=r, services=near, sites=sites, outline=outline)
        st.caption(f"{len(rows):,} neighbourhoods (LSOAs) coloured by {measure.label.lower()} ({measure.unit}); "
                   f"dots: services of the chosen types in and around {text.md(name)}; numbered circles: "
                   f"suggested new sites with their {r:g} km reach."
                   + (f" Showing 1,500 of {len(near):,} services." if len(near) > 1500 else ""))
    st_folium(fmap, key="pg_map", height=620, use_container_width=True, returned_objects=[])
    legend_title = measure.area_label if by_areas else measure.label
    legend_unit = measure.area_unit if by_areas else measure.unit
    st.caption(f"**Legend: {text.md(legend_title)} ({text.md(legend_unit)})**: "
               + "; ".join(f"{text.md(label)}" for _, label in classes.legend()))

with side_col:
    st.markdown(f"**Children within {r:g} km of a service, by IMD decile**")
    if is_england:
        cov = access.coverage_by_decile(measures, radius_km=r)
        long = pd.concat([
            pd.DataFrame({"IMD decile": cov.imd_decile.astype(int), "Area": "England", "Children": group,
                          "Share within reach": cov[f"{prefix}_within_share"]})
            for group, prefix in CHART_GROUPS])
    else:
        cmp = access.compare_with_england(measures, state.area, radius_km=r, column=kind.code)
        long = pd.concat([
            pd.DataFrame({"IMD decile": cmp.imd_decile.astype(int), "Area": area_label, "Children": group,
                          "Share within reach": cmp[col]})
            for group, prefix in CHART_GROUPS
            for area_label, col in ((name, f"area_{prefix}_share"), ("England", f"england_{prefix}_share"))])
    for group, _ in CHART_GROUPS:
        part = long[long.Children == group]
        chart = alt.Chart(part).mark_bar().encode(
            x=alt.X("IMD decile:O", title="IMD decile (1 = most deprived)", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("Area:N", sort=[name, "England"]),
            y=alt.Y("Share within reach:Q", title="Share within reach", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("Area:N", sort=[name, "England"], legend=alt.Legend(title=None),
                            scale=alt.Scale(range=["#1d6f5f", "#b0b0b0"] if not is_england else ["#1d6f5f"])),
            tooltip=["Area", "IMD decile", alt.Tooltip("Share within reach:Q", format=".0%")],
        ).properties(height=200)
        st.caption(group)
        st.altair_chart(chart, width="stretch")
    with st.expander("Numbers behind the chart"):
        st.dataframe(long.pivot_table(index="IMD decile", columns=["Children", "Area"], values="Share within reach")
                     .map(lambda v: f"{v:.0%}" if pd.notna(v) else "no children"), width="stretch")

    gaps = access.gap_list(rows, radius_km=r, deciles=deciles, demand=state.demand)
    st.markdown(f"**Gap list: {len(gaps):,} deprived neighbourhoods with no service within {r:g} km**")
    if gaps.empty:
        st.success(f"Every neighbourhood in IMD {decile_words} in {text.md(place)} has a service within {r:g} km.")
    else:
        show = gaps.head(GAP_ROWS_SHOWN).rename(columns={
            "rank": "Rank", "lsoa21_name": "Neighbourhood", "ward24_name": "Ward", "ltla24_name": "District",
            "imd_decile": "IMD decile", "affected_children": f"Affected {demand_words}",
            "children_0_15": "Children 0-15", "nearest_km": "Nearest service (km)"})
        cols = ["Rank", "Neighbourhood", "Ward"] + (["District"] if state.kind != "district" or is_england else []) + [
            "IMD decile", f"Affected {demand_words}", "Nearest service (km)"]
        st.dataframe(show[cols], hide_index=True, width="stretch", height=300,
                     column_config={"Nearest service (km)": st.column_config.NumberColumn(format="%.1f"),
                                    f"Affected {demand_words}": st.column_config.NumberColumn(format="%d")})
        if len(gaps) > GAP_ROWS_SHOWN:
            st.caption(f"Showing the first {GAP_ROWS_SHOWN} of {len(gaps):,}; the download has them all.")
        st.download_button(
            "Download the gap list (CSV)",
            text.safe_csv(gaps.round({"nearest_km": 3, "imd_score": 3, "children_and_young_people_score": 3,
                                      "under5": 1})),
            file_name=f"provision-gaps-{state.kind}-{state.area}-{r:g}km-deciles1-{state.max_decile}-"
                      f"{gapstate.DEMAND_KEYS[state.demand]}.csv", mime="text/csv",
        )

st.subheader("Where would new sites help most?")
if state.k == 0:
    st.info("Choose a number of new sites in the options to see where they would reach the most deprived children.")
elif sites.empty:
    st.success(f"No new site in {text.md(place)} would bring more deprived {demand_words} within reach: "
               "none is far from support.")
else:
    st.write(
        f"Each suggested site is the centre of a neighbourhood in {text.md(place)}. The first brings the most "
        f"deprived {demand_words} of {text.md(place)} who are now farther than {r:g} km from support within reach; "
        "each next one the most of those still left. This greedy search is guaranteed at least 63% of the best "
        "possible set; checked against every possible set of 2 or 3 sites in seven small authorities it reached "
        "94-100% of the best. Straight-line distances: check real routes and premises before deciding."
    )
    st.dataframe(
        sites.rename(columns={"rank": "Site", "lsoa21_name": "Neighbourhood", "ward24_name": "Ward",
                              "ltla24_name": "Authority", "children_gained": f"Deprived {demand_words} gained",
                              "lsoas_reached": "Neighbourhoods newly in reach",
                              "cumulative_children": "Running total"})[
            ["Site", "Neighbourhood", "Ward"] + (["Authority"] if is_england else [])
            + [f"Deprived {demand_words} gained", "Neighbourhoods newly in reach", "Running total"]],
        hide_index=True, width="stretch",
        column_config={c: st.column_config.NumberColumn(format="%d")
                       for c in (f"Deprived {demand_words} gained", "Running total")},
    )

ui_history.section(state.kind, state.area, place,
                   None if is_england else areas.boundaries(state.kind).pipe(lambda b: b[b[kind.code] == state.area]),
                   radius_km=r)

with st.expander("What the measures mean", expanded=False):
    st.markdown(
        f"- **Within reach**: a service of the chosen types no more than {r:g} km in a straight line from where "
        "people in the neighbourhood live (the ONS population-weighted centre of the LSOA). 1.6 km is about 20 "
        "minutes' walk with a pram; real routes are longer.\n"
        f"- **Deprived**: the neighbourhood is in IMD 2025 {decile_words} (1 = the most deprived 10% of the "
        "33,755 neighbourhoods in England).\n"
        "- **Gap list**: deprived neighbourhoods with no service within reach, the most affected children first.\n"
        f"- **Children under 5**: {under5.label(under5.source_of(areas.lsoa))}; the default count, as early-years "
        "support is for the children of new parents.\n"
        "- **Equity**: the share of the children counted who have a service within reach in the most deprived 20% "
        "of neighbourhoods (IMD deciles 1-2) against the least deprived 20% (deciles 9-10), their ratio, and the "
        "concentration index of being within reach over deprivation rank (-1 to 1; negative: reach concentrated "
        "among the more deprived).\n"
        "- **Income-deprived children**: children aged 0-15 in families on low incomes or benefits (the IoD2025 "
        "IDACI numerator). It is suppressed for a few small neighbourhoods, which are left out of those shares.\n"
        "- **New sites**: candidates are the neighbourhood centres of the area; the search adds one site at a "
        "time where it brings the most deprived children still far from support within reach.\n"
        + "".join(f"- **{text.md(m.label)}** ({text.md(m.unit)}): {text.md(m.explain)}\n" for m in MEASURES.values())
        + "\nFormulas: `directory/access.py`. England's map (and a region's) shows areas, not neighbourhoods: "
        + "; ".join(f"{text.md(m.label)} as {text.md(m.area_label.lower())}" for m in MEASURES.values())
        + "."
    )

ui.footer()

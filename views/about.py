"""About: where the data comes from, its licences and its limits."""

import streamlit as st

import ui
from directory import config, under5
from directory.sources import catalogue

st.title("About the data")
st.write(
    "Family Support Map joins a directory of early-years and perinatal services with the English Indices "
    "of Deprivation, so families can find help and commissioners can see where help is missing."
)

cat = catalogue()
areas = ui.areas()
services = ui.services()
c1, c2, c3 = st.columns(3)
c1.metric("Neighbourhoods (LSOAs)", f"{len(areas.lsoa):,}")
c2.metric("Service locations", f"{len(services):,}")
c3.metric("Postcodes searchable", f"{areas.postcodes.n_postcodes:,}")
pcs = areas.postcodes
if pcs.national:
    where = f"every English postcode ({len(pcs.areas)} postcode areas)"
else:
    where = (f"full postcodes in the areas {', '.join(pcs.areas)}, others at the middle of their postcode sector "
             "(add OS Code-Point Open, codepo_gb.zip, to the raw folder for every postcode)")
rate = pcs.agreement.get("rate")
st.caption(
    f"Postcode search covers {where}, from {'; '.join(pcs.releases) or 'the loaded postcode file'} "
    "(the newest file wins for each postcode). Each postcode's neighbourhood (LSOA 2021) is the LSOA polygon "
    "its grid reference falls in"
    + (f"; this agrees with ONS's own assignment for {rate:.1%} of the postcodes where ONS publishes one."
       if rate else ".")
)

st.subheader("Sources")
rows = [
    {"Data": s.title, "Publisher": s.publisher, "Vintage": s.vintage, "Licence": s.licence,
     "Official source": s.url or s.page or ""}
    for s in cat.sources.values()
]
st.dataframe(rows, hide_index=True, use_container_width=True,
             column_config={"Official source": st.column_config.LinkColumn()})
st.markdown(
    f"""
**How distances work.** Each neighbourhood (LSOA) is represented by its ONS population-weighted centroid.
Distances are straight lines in British National Grid metres; walking times assume {config.WALKING_KMH:g} km/h.
Where an OpenStreetMap extract is loaded, walking distances follow its streets and footpaths (from the path
nearest each point, within 250 m); elsewhere they stay straight lines, and the pages say which. Walking routes
© OpenStreetMap contributors (ODbL).

**Under-5s** are {under5.label(under5.source_of(areas.lsoa))}.

**Income-deprived children** are the IoD2025 IDACI numerator; 815 LSOAs have no published value and are
left blank (never guessed).

**Services** are seeded from the Department for Education's registers (Get Information About Schools): every
open children's centre and linked site in England, from the newest children's centres extract in the raw folder,
and the local authority maintained nursery schools; councils and services add the rest by import.

**How precise each location is.** Nursery schools are at their buildings (GIAS's grid references). GIAS publishes
no coordinates for children's centres, so each one is placed at the centre of its postcode (OS Code-Point Open),
or, for a postcode no longer in Code-Point, at the middle of its postcode sector (about 1 km); every entry says
which. The centre managers' names that GIAS lists are never read, stored or shown.
"""
)
ui.footer()

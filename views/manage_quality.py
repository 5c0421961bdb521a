"""The Manage page's steward tabs for record quality, imports and duplicates (not a page itself:
`manage_directory.py` calls these inside its tabs). The logic is in directory.quality,
directory.batches and directory.duplicates; this lays it out."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

import ui
from directory import duplicates, quality, text
from directory.batches import UndoRefused, list_imports, records_of_import, undo_import
from directory.store import NotFound

EDIT_TAB = "Add or edit a service"
SHOWN = 500  # rows of the quality table shown at once (the file download has them all)


def open_in_editor(state, service_id: str, name: str, missing: str) -> None:
    """Open a record in the edit form (the next run switches to its tab) and remember what it
    lacked, so the quality table can say what was fixed."""
    state.md_pending = {"md_find": name, "md_last_find": name, "md_pick": service_id}
    state.md_loaded = None
    state.md_open_tab = EDIT_TAB
    state.setdefault("mq_opened", {}).setdefault(service_id, missing)
    st.rerun()


def before_tabs(state) -> None:
    """Switch to the tab a button asked for on the last run (before the tabs exist)."""
    if "md_open_tab" in state:
        state.md_tab = state.pop("md_open_tab")


def _fixed(state, records: pd.DataFrame) -> pd.Series:
    opened = state.get("mq_opened", {})
    now = dict(zip(records.service_id, records.missing))
    return records.service_id.map(
        lambda sid: quality.missing_labels(";".join(quality.fixed_since(opened[sid], now.get(sid, ""))))
        if sid in opened else "")


def record_badge(state, service_id: str) -> None:
    """Under the edit form: the record's quality now, and what was fixed since it was opened."""
    rows = ui.steward_services()  # services without a building too
    rec = quality.record_quality(rows[rows.service_id == service_id])
    if rec.empty:
        return
    r = rec.iloc[0]
    missing = quality.missing_labels(r.missing) or "nothing"
    st.caption(f"Record quality: {r.score}/{len(quality.FACTS)} facts families need. Missing: {text.md(missing)}.")
    opened = state.get("mq_opened", {}).get(service_id)
    if opened is not None:
        fixed = quality.fixed_since(opened, r.missing)
        if fixed:
            st.success(f"Fixed: {text.md(quality.missing_labels(';'.join(fixed)))}.")


def quality_tab(state, scope: Callable[[pd.DataFrame], list[bool]] | None = None) -> None:
    """`scope(records)`: which records the signed-in steward may change (a boolean mask); others are
    not listed. None: every record."""
    services = ui.steward_services()  # services without a building too
    records = quality.record_quality(services)
    if scope is not None and not records.empty:
        records = records[np.asarray(scope(records), bool)].reset_index(drop=True)
    st.write("What a family would be missing in each record, worst first. Open a record to fix it; the table "
             "shows what you fixed as soon as you save.")
    with st.expander("What each fact means"):
        st.dataframe(quality.rules_frame(), hide_index=True, width="stretch")
    if records.empty:
        st.info("The directory has no active services yet.")
        return
    c1, c2, c3 = st.columns(3)
    sources = c1.multiselect("Source", sorted(records.source.dropna().unique()), key="mq_sources",
                             placeholder="Every source")
    authorities = (records.dropna(subset=["utla_code"]).drop_duplicates("utla_code")
                   .sort_values("utla_name")[["utla_code", "utla_name"]])
    names = dict(zip(authorities.utla_code, authorities.utla_name))
    chosen = c2.multiselect("Upper-tier authority", list(names), format_func=names.get, key="mq_utla",
                            placeholder="Every authority")
    lacking = c3.multiselect("Missing", list(quality.FACT_NAMES), format_func=lambda f: quality.BY_NAME[f].label,
                             key="mq_missing", placeholder="Any fact")
    shown = records
    if sources:
        shown = shown[shown.source.isin(sources)]
    if chosen:
        shown = shown[shown.utla_code.isin(chosen)]
    if lacking:
        shown = shown[~shown[lacking].all(axis=1)]
    fixed = _fixed(state, shown)
    n = len(shown)
    m1, m2, m3 = st.columns(3)
    m1.metric("Records", f"{n:,}")
    m2.metric("Mean score", f"{shown.score.mean():.1f} / {len(quality.FACTS)}" if n else "–")
    m3.metric("With every fact", f"{int((shown.score == len(quality.FACTS)).sum()):,}")
    if fixed.astype(bool).any():
        st.success("Fixed since you opened them: " + "; ".join(
            f"{text.md(nm)}: {text.md(fx)}" for nm, fx in zip(shown.name[fixed != ""], fixed[fixed != ""])))
    table = pd.DataFrame({
        "name": shown.name, "source": shown.source, "authority": shown.utla_name.fillna(""),
        "score": shown.score.map(lambda s: f"{s}/{len(quality.FACTS)}"), "fixed": fixed,
        "missing": shown.missing.map(quality.missing_labels), "location": shown.location_precision,
    }).reset_index(drop=True)
    if n > SHOWN:
        st.caption(f"The {SHOWN} worst of {n:,} records; download the table for all of them.")
    picked = st.dataframe(table.head(SHOWN), hide_index=True, width="stretch", key="mq_table",
                          on_select="rerun", selection_mode="single-row")
    rows = tuple((picked or {}).get("selection", {}).get("rows", []) if picked else ())
    if rows != state.get("mq_last_rows", ()):  # a row just clicked (a kept selection opens nothing)
        state.mq_last_rows = rows
        if rows:
            r = shown.iloc[rows[0]]
            open_in_editor(state, r.service_id, r["name"], r.missing)
    options = {sid: f"{nm} · {src} · {sc}/{len(quality.FACTS)}"
               for sid, nm, src, sc in zip(shown.service_id[:SHOWN], shown.name[:SHOWN], shown.source[:SHOWN],
                                           shown.score[:SHOWN])}
    o1, o2 = st.columns([3, 1])
    target = o1.selectbox("Open a record in the edit form", list(options), format_func=options.get, key="mq_pick",
                          index=None, placeholder="Choose a record (or click its row)")
    if o2.button("Open to fix", key="mq_open", disabled=target is None):
        r = shown[shown.service_id == target].iloc[0]
        open_in_editor(state, r.service_id, r["name"], r.missing)
    with st.expander("By source and by upper-tier authority"):
        for by, label in (("source", "Per source"), ("utla", "Per upper-tier authority")):
            st.write(f"**{label}** (counts of records with each fact, and shares)")
            st.dataframe(quality.group_quality(shown, by), hide_index=True, width="stretch")
    st.download_button("Download this table (CSV)", text.spreadsheet_safe_frame(shown).to_csv(index=False),
                       file_name="record-quality.csv", mime="text/csv", key="mq_download")


def imports_tab(state, directory, who: str, changed: Callable[[str], None],
                refusal: Callable[[list], str | None] | None = None) -> None:
    """`refusal(records)`: why the signed-in steward may not change these records (every record the
    import touched, before and after), or None. None: no scope check."""
    batches = list_imports(directory, limit=200)
    st.write("Every committed import, newest first. Undoing one puts back every service it touched as it was "
             "just before: new services removed, updated ones restored, closed ones reopened.")
    if not batches:
        st.info("No imports yet.")
        return
    st.dataframe([{
        "import": b["id"], "when": f"{b['at']:%Y-%m-%d %H:%M}", "steward": b["actor"], "source": b["source"] or "",
        "file": b["file_name"] or "", "new": b["new"], "updated": b["updated"], "closed": b["closed"],
        "unchanged": b["unchanged"],
        "undone": f"{b['undone_at']:%Y-%m-%d %H:%M} by {b['undone_by']}" if b["undone_at"] else "",
    } for b in batches], hide_index=True, width="stretch")
    open_ = {b["id"]: f"#{b['id']} {b['file_name'] or b['source'] or ''} ({b['at']:%Y-%m-%d %H:%M}, {b['actor']}: "
                      f"{b['new']} new, {b['updated']} updated)" for b in batches if not b["undone_at"]}
    if not open_:
        return
    # keyed on the newest import: after another import the choice starts again from the newest
    pick = st.selectbox("Undo an import", list(open_), format_func=open_.get, key=f"mq_batch_{batches[0]['id']}")
    sure = st.checkbox("Yes, undo every change this import made", key=f"mq_batch_sure_{pick}")
    if st.button("Undo this import", key="mq_batch_undo", disabled=not (who and sure)):
        try:
            reason = refusal(records_of_import(directory, pick)) if refusal is not None else None
            if reason:
                raise UndoRefused(f"Nothing was undone. {reason}")
            r = undo_import(directory, pick, who)
        except (NotFound, UndoRefused) as e:
            st.error(text.md(str(e)))
        else:
            changed(f"Undid import #{pick}: {r['removed']} services removed, {r['restored']} restored "
                    f"({r['reopened']} reopened).")


def duplicates_tab(state, directory, who: str, changed: Callable[[str], None],
                   scope: Callable[[pd.DataFrame], list[bool]] | None = None) -> None:
    """`scope(records)` as for `quality_tab`: a pair is offered when the steward may change one of them."""
    st.write("The same place listed by two sources (e.g. DfE's register and a council's feed): same postcode or "
             "within 150 m, a type in common and similar names. Link them and families see one entry naming "
             "both sources; keep them apart and they are not asked again.")
    services = ui.all_services()
    pairs = duplicates.pairs_for_review(services, directory, include_decided=True)
    if scope is not None and not pairs.empty:
        recs = quality.record_quality(services)
        mine = set(recs.service_id[np.asarray(scope(recs), bool)])
        pairs = pairs[pairs.service_a.isin(mine) | pairs.service_b.isin(mine)].reset_index(drop=True)
    todo = pairs[pairs.decision == ""]
    st.subheader(f"To decide: {len(todo)}")
    first = services.drop_duplicates("service_id").set_index("service_id")
    for k, p in enumerate(todo.head(20).itertuples(index=False)):
        with st.container(border=True):
            c1, c2 = st.columns(2)
            for col, sid, nm, src in ((c1, p.service_a, p.name_a, p.source_a), (c2, p.service_b, p.name_b,
                                                                                p.source_b)):
                row = first.loc[sid]
                col.markdown(f"**{text.md(nm)}**  \n{text.md(src)}  \n{text.md(text.address_text(row))}  \n"
                             f"{text.md(row.get('phone') or 'no phone')}")
            st.caption(f"{text.md(p.reason)}, {p.distance_m:,.0f} m apart, names {p.similarity:.0%} alike")
            b1, b2 = st.columns(2)
            for btn, decision, label in ((b1, "same", "Same place: link them"), (b2, "different", "Keep apart")):
                if btn.button(label, key=f"mq_dup_{decision}_{p.service_a}_{p.service_b}", disabled=not who):
                    try:
                        duplicates.decide(directory, p.service_a, p.service_b, decision, who)
                    except ValueError as e:
                        st.error(text.md(str(e)))
                    else:
                        changed(f"{text.md(p.name_a)} and {text.md(p.name_b)}: "
                                + ("linked as one place." if decision == "same" else "kept apart."))
    done = pairs[pairs.decision != ""]
    if not done.empty:
        with st.expander(f"Decided pairs ({len(done)})"):
            st.dataframe(done[["name_a", "source_a", "name_b", "source_b", "decision"]], hide_index=True,
                         width="stretch")

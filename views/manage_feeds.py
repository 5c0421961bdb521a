"""The Manage page's "Feeds" tab (admins; not a page itself: manage_directory.py calls `show`). Register
an Open Referral UK API, check it (pull, validate, review: nothing written), then commit or cancel; each
feed's health line says how its last pull went. The logic is in directory.feeds."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from directory import feeds, service_areas, text
from directory.ingest.feed_pull import Settings
from directory.store import NotFound

RESULTS = "mf_results"  # feed id -> the SyncResult of its last check in this session


def _review(result: feeds.SyncResult) -> None:
    """What a check found: the same sync review as a GIAS re-import, and every problem by service."""
    c = result.counts
    cols = st.columns(6)
    for col, (label, key) in zip(cols, [("Listed", "listed"), ("New", "new"), ("Changed", "changed"),
                                        ("Unchanged", "unchanged"), ("Gone", "gone"), ("Rejected", "rejected")]):
        col.metric(label, f"{c.get(key, 0):,}")
    rv = result.review
    for note in rv.report.notes:
        st.info(text.md(note))
    if rv.sync is not None and rv.sync.rows():
        st.write("**What changes when you commit** (gone: marked closed with today's date and kept, never deleted)")
        st.dataframe(rv.sync.rows(), hide_index=True, width="stretch")
    problems = result.problem_rows()
    if problems:
        st.write(f"**Problems** ({len(rv.report.errors):,} errors: those services are not written and stay as "
                 f"stored; {len(rv.report.warnings):,} warnings)")
        st.dataframe(problems, hide_index=True, width="stretch")
    if rv.report.unmapped_terms:
        st.caption("Taxonomy terms no mapping covers are listed in the problems: map them in the Taxonomy mapping "
                   "tab, then check again.")


def show(account, directory, changed: Callable[[str], None]) -> None:
    state = st.session_state
    results = state.setdefault(RESULTS, {})
    book = feeds.Feeds(directory)
    st.write("Councils', NHS teams' and charities' Open Referral UK APIs (HSDS-UK 1.0 or ORUK 3.0). A check pages "
             "/services, fetches each service's full record, validates it as an import and shows what would change; "
             "nothing is written until you commit. `python -m directory feeds sync --all --commit` pulls every "
             "enabled feed nightly (see the README).")
    registered = book.all()
    if not registered:
        st.info("No feed is registered yet: add one below.")
    for f in registered:
        with st.container(border=True):
            area = f" · services without a building: {service_areas.label(f.area)}" if f.area else ""
            st.markdown(f"**{text.md(f.name)}** · {text.md(f.base_url)}{text.md(area)}"
                        + ("" if f.enabled else " · *disabled*"))
            health = text.md(f.health)
            (st.error if f.last_status == "failed" else st.caption)(f"Last pull: {health}")
            b1, b2, b3 = st.columns(3)
            if b1.button("Check now (nothing is written)", key=f"mf_check_{f.id}"):
                with st.spinner(f"Pulling {f.name}..."):
                    results[f.id] = feeds.check(directory, f, _postcodes(), Settings())
                st.rerun()
            if b2.button("Disable" if f.enabled else "Enable", key=f"mf_toggle_{f.id}"):
                book.set_enabled(f.id, not f.enabled)
                st.rerun()
            if b3.button("Forget this feed", key=f"mf_remove_{f.id}",
                         help="Its services stay in the directory, under its name."):
                book.remove(f.id)
                results.pop(f.id, None)
                st.rerun()
            result = results.get(f.id)
            if result is not None and result.review is not None and result.status in ("reviewed", "held"):
                _review(result)
                go, cancel = st.columns(2)
                n = result.review.to_write
                if go.button(f"Commit: write {n:,} service{'s' if n != 1 else ''}", type="primary",
                             key=f"mf_commit_{f.id}", disabled=not n):
                    done = feeds.commit_result(directory, result, account.email, force=True)
                    results.pop(f.id, None)
                    changed(f"{text.md(f.name)}: {text.md(done.message)}")
                if cancel.button("Cancel", key=f"mf_cancel_{f.id}"):
                    results.pop(f.id, None)
                    st.rerun()
                if not n:
                    st.caption("Nothing to write: every service is already in the directory as the feed has it "
                               "(or was rejected).")
    st.subheader("Register a feed")
    names = service_areas.names()
    with st.form("mf_add", clear_on_submit=False):
        name = st.text_input("Name (the source its services are stored under)", key="mf_name",
                             placeholder="e.g. Bristol City Council family services feed")
        url = st.text_input("API base URL (its /services lists the services)", key="mf_url",
                            placeholder="e.g. https://api.example.gov.uk/api/v1")
        area = st.selectbox("Services without a building that state no area serve", [""] + [service_areas.ENGLAND]
                            + sorted(names, key=names.get), key="mf_area",
                            format_func=lambda c: service_areas.label(c) if c else "(none: they are refused)")
        since = st.checkbox("The API honours ?modified_after= (pull only what changed; a full pull weekly)",
                            key="mf_since")
        add = st.form_submit_button("Register the feed")
    if add:
        try:
            f = book.add(name, url, area or None, since, actor=account.email)
        except (ValueError, NotFound) as e:
            st.error(text.md(str(e)))
        else:
            for key in ("mf_name", "mf_url", "mf_area", "mf_since"):  # an empty form for the next one
                state.pop(key, None)
            changed(f"Registered {text.md(f.name)}: check it to see what it holds.")


def _postcodes():
    import ui

    return ui.areas().postcodes

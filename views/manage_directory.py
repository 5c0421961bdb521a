"""Manage directory: stewards load, check, correct and refresh the services families see."""

import math

import streamlit as st
from streamlit_folium import st_folium

import ui
from directory import config, reports, service_areas, steward, stewards, taxonomy, text
from directory.geocode import LocateError, parse_postcode
from directory.ingest.csv_import import STATUSES, TEMPLATE_COLUMNS, export_csv, record_from_fields, template_csv
from directory.ingest.oruk import export_json
from directory.ingest.report import MB, megabytes
from directory.ingest.review import KINDS, ImportRefused, default_source, read_file, review
from directory.store import NotFound, StaleEdit
from views import manage_quality

account = ui.account()
if account is None:  # not a signed-in steward: nothing here (the page is not in their navigation either)
    st.title("Manage directory")
    st.info("This page is for directory stewards: sign in on the Steward sign-in page.")
    st.stop()

st.title("Manage directory")
st.write(
    "Load the lists councils, NHS teams and charities publish, check them before anything is written, correct "
    "services and keep them current. Every change records who made it and when, and can be undone."
)

areas = ui.areas()
directory = ui.directory()
guard = stewards.Guard(account, directory, areas)
state = st.session_state
for key, value in {"md_upload_n": 0, "md_flash": None, "md_loaded": None, "md_version": None}.items():
    state.setdefault(key, value)

st.caption(f"Signed in as {text.md(account.name)} ({text.md(account.email)}), {account.role}. You may change "
           f"{text.md(account.scope_text(guard.names))}. Every change records your email.")
if state.md_flash:
    st.success(state.md_flash)
    state.md_flash = None


def changed(message: str) -> None:
    """After a write: refresh the family pages' data and say what happened (names already escaped)."""
    ui.services_changed()
    state.md_flash = message
    st.rerun()


tab_names = ["Import a list", "Add or edit a service", "Check and undo", "Export", "Taxonomy mapping",
             "Record quality", "Imports", "Duplicates"]
manage_quality.before_tabs(state)
tabs = st.tabs(tab_names + (["Feeds", "Stewards"] if account.is_admin else []), key="md_tab", on_change="rerun")
tab_import, tab_edit, tab_check, tab_export, tab_terms, tab_quality, tab_imports, tab_dups = tabs[:8]

# ---------------------------------------------------------------- import
with tab_import:
    kind = st.radio("What are you loading?", list(KINDS), format_func=KINDS.get, horizontal=True, key="md_kind")
    st.download_button("Download our CSV template", template_csv(), file_name="family-support-services-template.csv",
                       mime="text/csv")
    source = st.text_input(
        "Source: who published this list", value=default_source(kind), key=f"md_source_{kind}",
        placeholder={"csv": "e.g. Telford & Wrekin Council family services list",
                     "oruk": "e.g. North Lincolnshire Council ORUK feed"}.get(kind, ""),
        help="Use the same name every time you load this publisher's list: re-importing then updates services "
             "instead of adding them twice.",
    ).strip()
    limit_mb = config.upload_limit_bytes() / MB
    upload = st.file_uploader(f"File (CSV or JSON, up to {megabytes(config.upload_limit_bytes())} and "
                              f"{config.upload_max_rows():,} rows)", type=["csv", "json"],
                              key=f"md_upload_{state.md_upload_n}", max_upload_size=max(1, math.ceil(limit_mb)))
    links_upload = None
    if kind == "gias-cc":
        links_upload = st.file_uploader(
            "GIAS links file (optional: links_edubaseallchildrencentreYYYYMMDD.csv, says which centre each linked "
            "site belongs to)", type=["csv"], key=f"md_links_{state.md_upload_n}",
            max_upload_size=max(1, math.ceil(limit_mb)))
    if upload is not None and not source:
        st.warning("Say who published this list (the source) to check the file.")
    elif upload is not None:
        with st.status(f"Checking {text.md(upload.name)}...", expanded=False) as checking:
            st.write("Reading the file and validating every row")
            report = read_file(kind, upload.getvalue(), source, areas.postcodes, directory, upload.name,
                               links=links_upload.getvalue() if links_upload is not None else None,
                               max_rows=config.upload_max_rows())
            st.write(f"Comparing {steward.plural(len(report.records), 'record')} with the directory")
            rv = review(report, directory)
            guard.restrict(rv)  # records outside this steward's scope become errors naming their row
            checking.update(label=f"Checked {text.md(upload.name)}", state="complete")
        counts = rv.counts
        state.md_unmapped = steward.unmapped_rows(report)
        st.subheader("Validation report")
        st.caption(f"{steward.plural(report.rows, report.unit)} read from {text.md(upload.name)}. Nothing has been "
                   "written yet.")
        cols = st.columns(5)
        for col, label in zip(cols, ["new", "updated", "unchanged", "rejected", "warnings"]):
            col.metric(label.capitalize(), counts[label])
        for note in report.notes:
            st.info(text.md(note))
        if rv.sync is not None:
            sc = rv.sync.counts
            st.write(f"**Sync review** against the stored {text.md(rv.sync.source)}: what changes when you commit")
            for col, (label, key) in zip(st.columns(6), [("New", "new"), ("Changed", "changed"),
                                                         ("No longer listed", "no_longer_listed"),
                                                         ("Reappeared", "reappeared"), ("Listed as closed", "closed"),
                                                         ("Can't be placed", "unplaceable")]):
                col.metric(label, sc[key])
            if rv.sync.rows():
                st.dataframe(rv.sync.rows(), hide_index=True, width="stretch")
            st.caption(f"{sc['unchanged']:,} centres are unchanged (their last-verified date moves to this "
                       "version). Centres no longer listed are marked closed with this version's date and kept, "
                       "never deleted.")
        if rv.sources and set(rv.sources) != {source}:
            st.warning("This file writes records of these sources: "
                       + ", ".join(f"{text.md(k)} ({v})" for k, v in rv.sources.items()))
        if report.problems:
            st.write(f"**Problems** ({steward.plural(len(report.errors), 'error')} (rejected), "
                     f"{steward.plural(len(report.warnings), 'warning')} (imported, but worth a look))")
            st.dataframe(steward.problem_rows(report), hide_index=True, width="stretch")
        if report.unmapped_terms:
            st.write("**Taxonomy terms not mapped to our types** (map them in the Taxonomy mapping tab, then "
                     "upload again)")
            st.dataframe(state.md_unmapped, hide_index=True, width="stretch")
        if rv.records:
            with st.expander(f"What would be written ({steward.plural(len(rv.records), 'service')})",
                             expanded=len(rv.records) <= 20):
                st.dataframe(steward.preview_rows(rv), hide_index=True, width="stretch")
        skip = False
        if report.errors and rv.records:
            skip = st.checkbox(f"Skip the rejected {steward.plural(counts['rejected'], report.unit)} and import "
                               "the rest", key="md_skip")
        reason = rv.refusal(skip)
        go, cancel = st.columns(2)
        if go.button(f"Commit: write {steward.plural(rv.to_write, 'service')}", type="primary",
                     key="md_commit", disabled=bool(reason)):
            try:
                bar = st.progress(0.0, text=f"Writing {steward.plural(rv.to_write, 'service')}...")
                done = guard.commit(rv, kind, upload.name, skip_rejected=skip,
                                    progress=lambda f: bar.progress(f, text=f"Writing: {f:.0%}"))
                bar.empty()
            except (ImportRefused, stewards.OutOfScope) as e:
                st.error(text.md(str(e)))
            else:
                state.md_upload_n += 1
                changed(f"Imported {text.md(upload.name)}: {done.new} new, {done.updated} updated, {done.unchanged} "
                        "unchanged. Families see the changes now.")
        if cancel.button("Cancel", key="md_cancel"):
            state.md_upload_n += 1
            state.md_flash = "Cancelled: nothing was written."
            st.rerun()
        if reason:
            st.caption(text.md(reason))

# ---------------------------------------------------------------- add or edit
FORM_KEYS = [c for c in TEMPLATE_COLUMNS if c not in ("source", "source_id")]
PRECISION_LABELS = {"building": "the building", "postcode": "the postcode's centre", "sector": "the postcode sector"}


def load_form(stored) -> None:
    fields = steward.form_fields(stored)
    for c in FORM_KEYS:
        state[f"md_f_{c}"] = fields.get(c, "")
    state.md_f_types = [t for t in fields["types"].split("; ") if t]
    state.md_f_service_areas = [c for c in fields.get("service_area", "").split("; ") if c]
    state.md_f_pregnancy = fields["pregnancy"] == "yes"
    state.md_f_status = fields["status"] or "active"
    state.md_loaded = stored.id if stored else "__new__"
    state.md_version = stored.version if stored else None


def form_values() -> dict[str, str]:
    fields = {c: state.get(f"md_f_{c}", "") for c in FORM_KEYS}
    fields["types"] = "; ".join(state.get("md_f_types") or [])
    fields["service_area"] = "; ".join(state.get("md_f_service_areas") or [])
    fields["pregnancy"] = "yes" if state.get("md_f_pregnancy") else "no"
    return fields


with tab_edit:
    if "md_pending" in state:  # values set by the last run (e.g. a postcode look-up), before the widgets exist
        for k, v in state.pop("md_pending").items():
            state[k] = v
    find = st.text_input("Find a service (name, postcode or source id)", key="md_find")
    matches = directory.summaries(find, limit=50)
    labels = {"__new__": "A new service"} | {m["id"]: steward.choice_label(m) for m in matches}
    if find != state.get("md_last_find"):  # a new search: show its best match
        state.md_last_find = find
        if find and matches:
            state.md_pick = matches[0]["id"]
    if state.get("md_pick") not in labels:
        state.md_pick = matches[0]["id"] if find and matches else "__new__"
    pick = st.selectbox("Service", list(labels), format_func=labels.get, key="md_pick")
    try:
        editing = None if pick == "__new__" else directory.get(pick)
    except NotFound:
        st.warning("That service has just been removed by someone else.")
        editing, pick = None, "__new__"
    if pick != state.md_loaded:
        load_form(editing)
    if editing and (outside := guard.refusal_for(editing.id)):
        st.warning(text.md(outside))
    if editing and len(editing.record.places) > 1:
        st.caption(f"This service is at {len(editing.record.places)} places: the form edits the first; the others "
                   "are kept.")

    with st.form("md_form"):
        c1, c2 = st.columns(2)
        c1.text_input("Name", key="md_f_name")
        c2.multiselect("Types", [t.code for t in taxonomy.TERMS], format_func=taxonomy.label, key="md_f_types")
        c1.text_input("Organisation", key="md_f_organization")
        c2.selectbox("Status", list(STATUSES), key="md_f_status")
        st.text_area("Description", key="md_f_description", height=80)
        c1, c2, c3 = st.columns(3)
        c1.text_input("Place name", key="md_f_location_name")
        c2.text_input("Address", key="md_f_address")
        c3.text_input("Town", key="md_f_town")
        c1.text_input("Postcode", key="md_f_postcode")
        c2.text_input("Latitude", key="md_f_latitude", help="Leave blank and look up the postcode to fill it in.")
        c3.text_input("Longitude", key="md_f_longitude")
        st.columns(3)[0].selectbox(  # on a row of its own, under the postcode and the point
            "The point is", ["", *PRECISION_LABELS], key="md_f_location_precision",
            format_func=lambda v: PRECISION_LABELS.get(v, "worked out (the building if you type it)"),
            help="What families are told about the location: the building itself, the postcode's centre, or only "
                 "the postcode sector.")
        area_codes = [service_areas.ENGLAND] + sorted(guard.names, key=lambda c: guard.names[c])
        st.multiselect(
            "Service area (for a service without a building: phone, online, home visits)", area_codes,
            key="md_f_service_areas", format_func=service_areas.label, placeholder="None",
            help="Where families can use it: upper-tier authorities, or England. A service with a service area and "
                 "no postcode or point is listed under “Phone and online support” for these areas, never put on "
                 "the map.")
        c1, c2, c3 = st.columns(3)
        c1.text_input("Youngest age (months)", key="md_f_min_age_months")
        c2.text_input("Oldest age (months)", key="md_f_max_age_months")
        c3.checkbox("For expectant parents", key="md_f_pregnancy")
        c1.selectbox("Free?", ["", "yes", "no"], key="md_f_free", format_func=lambda v: v or "not stated")
        c2.text_input("Cost", key="md_f_cost")
        c3.selectbox("Referral", ["", "self", "professional", "both"], key="md_f_referral",
                     format_func=lambda v: v or "not stated")
        st.text_input("How to get referred", key="md_f_referral_notes")
        c1, c2, c3 = st.columns(3)
        c1.text_input("Phone", key="md_f_phone")
        c2.text_input("Email", key="md_f_email")
        c3.text_input("Website", key="md_f_website")
        c1.text_input("Opening times", key="md_f_schedule")
        c2.text_input("Languages (separated by ;)", key="md_f_languages")
        c3.text_input("Last verified (YYYY-MM-DD)", key="md_f_last_verified")
        c1.text_input("Who it is for", key="md_f_eligibility")
        c2.text_input("Capacity (places or sessions)", key="md_f_capacity")
        b1, b2 = st.columns(2)
        look = b1.form_submit_button("Look up the postcode and show it on the map")
        save = b2.form_submit_button("Save", type="primary")

    fields = form_values()
    if look:
        try:
            pc = parse_postcode(fields["postcode"])
            hit = areas.postcodes.postcode(pc) if pc.inward else None
            if hit is None:
                st.error(f"{text.md(pc.display)} is not in the loaded postcode directory: type the latitude and "
                         "longitude instead.")
            else:
                state.md_pending = {"md_f_postcode": hit[0], "md_f_latitude": f"{hit[4]:.6f}",
                                    "md_f_longitude": f"{hit[3]:.6f}", "md_f_location_precision": "postcode"}
                st.rerun()
        except LocateError as e:
            st.error(text.md(str(e)))
    if save:
        source = editing.record.source if editing else steward.MANUAL_SOURCE
        fields["source"] = source
        fields["source_id"] = editing.record.source_id if editing else steward.new_source_id()
        record, problems = record_from_fields(fields, source, areas.postcodes)
        if problems:
            st.error("Not saved:  \n" + "  \n".join(f"**{text.md(p.field)}**: {text.md(p.message)}" for p in problems))
        else:
            if editing and len(editing.record.places) > 1:
                record.places = record.places + editing.record.places[1:]
            try:
                saved = guard.save(record, editing.id if editing else None, state.md_version)
            except StaleEdit as e:
                st.error(str(e))
            except stewards.OutOfScope as e:
                st.error(text.md(str(e)))
            except (NotFound, ValueError) as e:
                st.error(text.md(str(e)))
            else:
                state.md_pending = {"md_find": saved.record.name, "md_last_find": saved.record.name,
                                    "md_pick": saved.id}
                state.md_loaded = None
                changed(f"Saved {text.md(saved.record.name)} (version {saved.version}).")
    where = steward.coordinates(fields)
    if not where and fields["service_area"] and not fields.get("postcode"):
        st.caption("No building: families in " + text.md(service_areas.labels(fields["service_area"].split("; ")))
                   + " see it under “Phone and online support for your area”, not on the map.")
    if where:
        st.caption(f"Where families will see it: {where[0]:.5f}, {where[1]:.5f}")
        st_folium(steward.preview_map(where[0], where[1], fields["name"]), key="md_preview", height=320,
                  use_container_width=True, returned_objects=[])
    if editing:
        c0, c1, c2, c3 = st.columns(4)
        if c0.button("Reload from the directory", key="md_reload", help="Drop your unsaved changes and show the "
                                                                         "service as it is stored now."):
            state.md_loaded = None
            st.rerun()
        if c1.button("Mark as verified today", key="md_verify"):
            try:
                guard.mark_verified([editing.id])
            except (stewards.OutOfScope, NotFound, StaleEdit) as e:
                st.error(text.md(str(e)))
            else:
                state.md_loaded = None
                changed(f"{text.md(editing.record.name)}: verified today.")
        if c2.button("Undo the last change", key="md_undo_one"):
            try:
                what = guard.undo(editing.id)
            except (NotFound, StaleEdit, ValueError, stewards.OutOfScope) as e:
                st.error(text.md(str(e)))
            else:
                state.md_loaded = None
                changed(f"Undid the last change ({what}) of {text.md(editing.record.name)}.")
        if c3.button("Remove this service", key="md_remove"):
            try:
                guard.delete(editing.id, state.md_version)
            except (NotFound, StaleEdit, stewards.OutOfScope) as e:
                st.error(text.md(str(e)))
            else:
                state.md_pending = {"md_pick": "__new__"}
                changed(f"Removed {text.md(editing.record.name)} (undo it from Check and undo).")
        with st.expander("History of this service"):
            st.dataframe(steward.history_rows(directory, editing.id), hide_index=True, width="stretch")
        manage_quality.record_badge(state, editing.id)

# ---------------------------------------------------------------- check and undo
with tab_check:
    stale = steward.stale_rows(directory)
    st.subheader(f"Not verified for more than a year: {len(stale)}")
    if stale:
        st.dataframe(stale, hide_index=True, width="stretch")
        names = {r["id"]: f"{r['name']} ({r['source']})" for r in stale}
        chosen = st.multiselect("Checked with the service just now", list(names), format_func=names.get,
                                key="md_verify_many")
        if st.button("Mark these as verified today", disabled=not chosen, key="md_verify_many_go"):
            try:
                n = guard.mark_verified(chosen)
            except (stewards.OutOfScope, NotFound, StaleEdit) as e:
                st.error(text.md(str(e)))
            else:
                changed(f"{n} services marked as verified today.")
    else:
        st.write("Every active service has been verified in the last year.")
    # "Is something wrong here?" messages from services' public pages (plain text in the table)
    waiting = [r for r in reports.open_reports(directory) if guard.refusal_for(r["service id"]) is None]  # in scope
    st.subheader(f"Reports from families and professionals: {len(waiting)}")
    if waiting:
        st.dataframe(waiting, hide_index=True, width="stretch")
        about = {r["report"]: f"{r['service']}: {r['message'][:60]}" for r in waiting}
        dealt = st.multiselect("Dealt with (the entry is corrected, or nothing needed changing)", list(about),
                               format_func=about.get, key="md_reports_done")
        if st.button("Mark these reports as dealt with", disabled=not dealt, key="md_reports_go"):
            n = reports.resolve(directory, dealt, guard.actor)
            changed(f"{n} reports marked as dealt with.")
    else:
        st.write("No reports waiting.")
    st.subheader("Recent changes")
    recent = steward.history_rows(directory, limit=100)
    st.dataframe(recent, hide_index=True, width="stretch")
    undoable = {r["service id"]: f"{r['service']} (last: {r['change']} by {r['who']}, {r['when']})"
                for r in reversed(recent)}
    if undoable:
        target = st.selectbox("Undo the last change of", list(undoable)[::-1], format_func=undoable.get,
                              key="md_undo_pick")
        if st.button("Undo", key="md_undo"):
            try:
                what = guard.undo(target)
            except (NotFound, StaleEdit, ValueError, stewards.OutOfScope) as e:
                st.error(text.md(str(e)))
            else:
                state.md_loaded = None
                changed(f"Undid the last change ({what}).")

# ---------------------------------------------------------------- export
with tab_export:
    st.write(f"The whole directory ({directory.count():,} services), to share or to back up. Importing an export "
             "back changes nothing.")
    c1, c2 = st.columns(2)
    c1.download_button("Open Referral UK JSON", lambda: export_json(directory.stored()),
                       file_name="family-support-directory-oruk.json", mime="application/json", key="md_export_json")
    c2.download_button("CSV (our template)", lambda: export_csv([s.record for s in directory.stored()]),
                       file_name="family-support-directory.csv", mime="text/csv", key="md_export_csv")

# ---------------------------------------------------------------- taxonomy mapping
with tab_terms:
    st.write("Other directories' taxonomy terms, mapped to our types. An Open Referral UK import uses this table; "
             f"terms mapped to “{taxonomy.IGNORE}” are known but not ours. Vocabulary “*” matches any.")
    rows = directory.mapping_rows()
    known = {(taxonomy.term_key(r["vocabulary"]), taxonomy.term_key(r["term"])) for r in rows}
    rows += [{"vocabulary": u["vocabulary"], "term": u["term"], "code": None, "note": f"{u['services']} services"}
             for u in state.get("md_unmapped", [])
             if (taxonomy.term_key(u["vocabulary"]), taxonomy.term_key(u["term"])) not in known]
    edited = st.data_editor(
        [{k: r.get(k) for k in ("vocabulary", "term", "code", "note")} for r in rows],
        num_rows="dynamic", hide_index=True, width="stretch", key="md_terms",
        column_config={"code": st.column_config.SelectboxColumn(
            "our type", options=[t.code for t in taxonomy.TERMS] + [taxonomy.IGNORE])},
    )
    if not account.is_admin:
        st.caption("Only admins change the mapping: ask one to add a term.")
    if st.button("Save the mapping", disabled=not account.is_admin, key="md_terms_save"):
        try:
            n = guard.save_mappings(list(edited))
        except (ValueError, stewards.OutOfScope) as e:
            st.error(text.md(str(e)))
        else:
            state.md_unmapped = []
            changed(f"Mapping saved ({n} rows added, changed or removed). Upload the file again to use it.")

# ---------------------------------------------------------------- quality, imports, duplicates


def in_scope(records):
    """Which quality records this steward may change (by source, or the authority of the record's place)."""
    return [stewards.may_change(account, src, {utla if isinstance(utla, str) else None}, guard.names) is None
            for src, utla in zip(records.source, records.utla_code)]


with tab_quality:
    manage_quality.quality_tab(state, scope=in_scope)
with tab_imports:
    manage_quality.imports_tab(state, directory, guard.actor, changed,
                               refusal=lambda recs: next((r for r in guard.refusals(recs) if r), None))
with tab_dups:
    manage_quality.duplicates_tab(state, directory, guard.actor, changed, scope=in_scope)

if account.is_admin:
    with tabs[8]:
        from views import manage_feeds

        manage_feeds.show(account, directory, changed)
    with tabs[9]:
        from views import manage_stewards

        manage_stewards.show(account, directory, areas, guard.names)

ui.footer()

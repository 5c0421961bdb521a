"""The Manage page's Stewards tab (admins only): who may change the directory, and where."""

from __future__ import annotations

import streamlit as st

from directory import stewards, text
from directory.store import NotFound


def _rows(accounts, names) -> list[dict]:
    return [{"email": a.email, "name": a.name, "role": a.role, "enabled": a.enabled,
             "authorities": ", ".join(f"{names.get(c, c)} ({c})" for c in sorted(a.authorities)),
             "sources": "; ".join(sorted(a.sources)),
             "last active": f"{a.last_seen_at:%Y-%m-%d %H:%M}" if a.last_seen_at else ""} for a in accounts]


def _sources(value: str) -> list[str]:
    return [s.strip() for s in value.split(";") if s.strip()]


def show(admin: stewards.Account, directory, areas, names: dict[str, str]) -> None:
    book = stewards.Stewards(directory)
    accounts = book.all()
    st.write("People who may change the directory after signing in, by the email their identity provider gives. "
             "A steward changes services in their upper-tier authorities or of their sources; an admin changes "
             "everything, the taxonomy mapping and this list.")
    st.dataframe(_rows(accounts, names), hide_index=True, width="stretch")
    codes = sorted(names, key=lambda c: names[c])

    def label(c):
        return f"{names.get(c, c)} ({c})"

    with st.form("ms_add", clear_on_submit=True):
        st.markdown("**Add a steward**")
        c1, c2, c3 = st.columns(3)
        email = c1.text_input("Work email", key="ms_email")
        name = c2.text_input("Display name", key="ms_name")
        role = c3.selectbox("Role", stewards.ROLES, key="ms_role")
        auth = st.multiselect("Upper-tier authorities they may change", codes, format_func=label, key="ms_auth")
        src = st.text_input("Sources they may change (separated by ;)", key="ms_src")
        if st.form_submit_button("Add"):
            try:
                a = book.add(email, name, role, auth, _sources(src), actor=admin.email, known_authorities=names)
            except ValueError as e:
                st.error(text.md(str(e)))
            else:
                st.success(f"Added {text.md(a.email)}.")
                st.rerun()

    if not accounts:
        return
    st.markdown("**Change a steward**")
    by_email = {a.email: a for a in accounts}
    pick = st.selectbox("Steward", list(by_email), key="ms_pick")
    a = by_email[pick]
    with st.form(f"ms_edit_{pick}"):
        role = st.selectbox("Role", stewards.ROLES, index=stewards.ROLES.index(a.role), key=f"ms_role_{pick}")
        enabled = st.checkbox("Enabled (may sign in and change the directory)", value=a.enabled,
                              key=f"ms_enabled_{pick}")
        auth = st.multiselect("Upper-tier authorities", codes, default=sorted(a.authorities & set(codes)),
                              format_func=label, key=f"ms_auth_{pick}")
        src = st.text_input("Sources (separated by ;)", value="; ".join(sorted(a.sources)), key=f"ms_src_{pick}")
        if st.form_submit_button("Save"):
            if pick == admin.email and (not enabled or role != "admin"):
                st.error("You can't disable yourself or give up your own admin role here: ask another admin (or "
                         "use the command line).")
                return
            try:
                book.set_scope(pick, auth, _sources(src), actor=admin.email, known_authorities=names)
                book.set_role(pick, role, actor=admin.email)
                book.set_enabled(pick, enabled, actor=admin.email)
            except (ValueError, NotFound) as e:
                st.error(text.md(str(e)))
            else:
                st.success(f"Saved {text.md(pick)}.")
                st.rerun()

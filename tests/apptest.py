"""One page in AppTest: its query parameters and session state set before the first run, and no
exception after any run (the page-test files wrap these with their page and timeout)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def checked(at: AppTest) -> AppTest:
    """Run `at` (again) and fail on any exception element."""
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(page: str, params: dict | None = None, state: dict | None = None, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(page, default_timeout=timeout)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    for k, v in (state or {}).items():
        at.session_state[k] = v
    return checked(at)

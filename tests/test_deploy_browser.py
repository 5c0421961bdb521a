"""The deployment on loopback (scripts/deploy-local.sh: PostgreSQL, two Streamlit processes, nginx with
sticky sessions): a family searches through nginx in Chromium; one browser stays on one process; the
access log never holds the searched postcode."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, ROOT, free_port, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def deployment(seeded):
    port = free_port()
    proc = subprocess.Popen([str(ROOT / "scripts" / "deploy-local.sh"), "--port", str(port), "--processes", "2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines, upstreams, logdir = [], [], None
    for line in proc.stdout:
        lines.append(line)
        if m := re.match(r"streamlit process \d+: pid \d+ on (127\.0\.0\.1:\d+)", line):
            upstreams.append(m[1])
        if m := re.match(r"nginx: config and access log in (\S+)", line):
            logdir = Path(m[1])
        if line.startswith("ready:"):
            break
    else:
        pytest.fail("deploy-local.sh did not start:\n" + "".join(lines[-30:]))
    try:
        yield f"http://127.0.0.1:{port}", upstreams, logdir
    finally:
        proc.terminate()
        proc.wait(60)


def test_family_searches_through_nginx(deployment, browser):
    url, upstreams, logdir = deployment
    assert len(upstreams) == 2
    ARTIFACTS.mkdir(exist_ok=True)
    for i, q in enumerate(("TF1 1AA", "TF3 1LY")):  # two browsers (each its own cookie)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        try:
            page.goto(f"{url}/?q={q.replace(' ', '+')}")
            wait_for_app(page, f"of {q}")
            assert page.get_by_text("Nothing within").count() + page.get_by_text(" within ").count() > 0
            if i == 0:
                page.screenshot(path=str(ARTIFACTS / "deploy_nginx_search.png"))
            route = next(c["value"] for c in ctx.cookies() if c["name"] == "fsm_route")
            assert re.fullmatch(r"[0-9a-f]{32}", route)
        finally:
            ctx.close()
    log = (logdir / "access.log").read_text()
    # the browser's page, scripts and websocket all went to one process per browser (sticky)
    by_route: dict[str, set[str]] = {}
    for ln in log.splitlines():
        if m := re.search(r"upstream=(\S+) route=([0-9a-f]{32})", ln):
            by_route.setdefault(m[2], set()).add(m[1])
    browsers = [r for r, ups in by_route.items() if len(ups) >= 1 and
                sum(f"route={r}" in ln for ln in log.splitlines()) > 3]
    assert len(browsers) == 2, by_route
    assert all(len(by_route[r]) == 1 and by_route[r] <= set(upstreams) for r in browsers)  # one process each
    assert "TF1" not in log and "TF3" not in log and "q=" not in log  # the searched postcode is never logged

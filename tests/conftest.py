"""Shared fixtures. Tests run on the real official files in FSM_RAW_DATA
(default ../shared/data), built once per session into a temporary folder,
and on a throwaway directory database seeded from DfE GIAS."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots (git-ignored)

# Decide the environment before any app module reads it.
os.environ.setdefault("FSM_RAW_DATA", str((ROOT / ".." / "shared" / "data").resolve()))
_session_dir = Path(tempfile.mkdtemp(prefix="fsm-tests-"))
os.environ.setdefault("FSM_BUILD_DIR", str(ROOT / "data" / "build"))
os.environ["FSM_DATABASE_URL"] = f"sqlite:///{_session_dir / 'directory.sqlite'}"
os.environ.setdefault("FSM_MAP_ASSETS", "local")

from directory import config  # noqa: E402
from directory.areas import Areas  # noqa: E402
from directory.bootstrap import ensure_ready  # noqa: E402
from directory.build import ensure_built  # noqa: E402
from directory.store import Directory  # noqa: E402

RAW = config.raw_dir()


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_session_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def raw() -> Path:
    if not RAW.is_dir():
        pytest.fail(f"FSM_RAW_DATA={RAW} is not a folder of the official raw files (see README)")
    return RAW


@pytest.fixture(scope="session")
def areas(raw) -> Areas:
    ensure_built(raw)
    return Areas.load()


@pytest.fixture(scope="session")
def seeded(areas) -> Directory:
    """The session's directory (FSM_DATABASE_URL): GIAS nursery schools only. Read-only for tests."""
    return ensure_ready()


def copy_of(directory: Directory, path: Path) -> str:
    """A consistent copy of a SQLite directory (it runs in WAL mode) at `path`; its URL. Cheaper than seeding."""
    import sqlite3

    src, dst = sqlite3.connect(directory.engine.url.database), sqlite3.connect(path)
    try:
        src.backup(dst)
    finally:
        src.close(), dst.close()
    return f"sqlite:///{path}"


@pytest.fixture()
def empty_directory(tmp_path) -> Directory:
    """A fresh, empty SQLite directory for tests that write."""
    return Directory(f"sqlite:///{tmp_path / 'dir.sqlite'}").create()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, why_exited, tries: int = 200) -> None:
    """Poll `url` until it answers (a server we started as `proc`); fail with why_exited() if it dies."""
    for _ in range(tries):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(why_exited())
            time.sleep(0.2)


@contextlib.contextmanager
def streamlit_server(args: tuple[str, ...] = (), env: dict | None = None, port: int | None = None):
    """`streamlit run serve.py` (the dashboard as scripts/run-dashboard.sh starts it) on a free local port
    (our own process: stopped at the end).
    `args` are extra Streamlit options (e.g. --secrets.files), `env` extra environment variables."""
    port = port or free_port()
    log_path = _session_dir / f"streamlit-{port}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         *args],
        cwd=ROOT, env=dict(os.environ) | (env or {}), stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/_stcore/health", proc, lambda: f"streamlit exited: {log_path.read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app_url(seeded):
    """The app, shared by the browser tests of a session."""
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="session")
def signed_app(tmp_path_factory, seeded):
    """The app with sign-in configured against a real OIDC provider on loopback, its own directory and
    stewards list (tests/signed_browser.py): (base URL, directory URL)."""
    from tests.signed_browser import signed_app_server

    folder = tmp_path_factory.mktemp("signin")
    with signed_app_server(folder, copy_of(seeded, folder / "directory.sqlite")) as got:
        yield got


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (scripts/setup.sh --tests installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    yield pg
    ctx.close()


def wait_for_app(pg, text: str, timeout: float = 60_000):
    """Wait until the Streamlit page shows `text` and its script has stopped running.

    The app reports its script state on the root element; the state is read twice, 300 ms apart,
    because a rerun that a key press or an upload has just asked for may not have started yet.
    """
    pg.get_by_text(text).first.wait_for(timeout=timeout)
    idle = """() => document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState === 'notRunning'
                   && !document.querySelector('[data-testid="stStatusWidget"]')"""
    for _ in range(2):
        pg.wait_for_timeout(300)
        pg.wait_for_function(idle, timeout=timeout)


# ---------------------------------------------------------------- storage on SQLite and PostgreSQL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, and a throwaway schema on the PostgreSQL at
    FSM_TEST_DATABASE_URL (scripts/run-tests.sh starts one). Without that variable the
    PostgreSQL case is skipped, except in CI (env CI set), where it fails."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'directory.sqlite'}"
        return
    base = os.environ.get("FSM_TEST_DATABASE_URL")
    if not base:
        if os.environ.get("CI"):
            pytest.fail("FSM_TEST_DATABASE_URL is not set: in CI the storage tests must also run on PostgreSQL "
                        "(scripts/run-tests.sh starts one)")
        pytest.skip("PostgreSQL storage tests need FSM_TEST_DATABASE_URL (scripts/run-tests.sh starts a server)")
    from bench._db import throwaway_schema

    with throwaway_schema(base, "fsm_test") as url:
        yield url


@pytest.fixture()
def store(db_url) -> Directory:
    """An empty directory (migrated, our taxonomy terms only) on SQLite and on PostgreSQL."""
    d = Directory(db_url).create()
    yield d
    d.engine.dispose()

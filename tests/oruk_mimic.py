"""A local Open Referral UK API on loopback, for the feed puller's tests and bench.

It serves real documents only:
- the two councils' real HSDS-UK 1.0 `/services` lists in ../shared/data/oruk_feeds/ (Bristol,
  North Lincolnshire), paged by this server as a bare list or as the v1 page object; their
  `/services/{id}` answer the list item itself (the captures are list level only: no locations,
  schedules or taxonomy exist for them, and none are made up);
- our own Open Referral UK 3.0 export (`oruk.export_oruk`) of a directory (e.g. the seeded
  national one), paged in the ORUK 3.0 shape its README describes (`total_items`, `total_pages`,
  `page_number`, `size`, `first_page`, `last_page`, `empty`, `contents`), with each full service
  document at `/services/{id}`; `?modified_after=` honoured when the feed says so;
and the ways real feeds fail: a time-out, HTTP 500, malformed JSON, pages that loop, pages
without end, flaky answers (500 a few times, then fine).

Each feed lives under its own path: `Mimic.url(name)` is its base URL.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tests.mimic_paths import BRISTOL, NORTH_LINCS  # noqa: F401 (the real captures it serves)
#: ORUK 3.0 list items carry the service's own fields, not its sub-records (see the standard's service_list.json)
LIST_FIELDS = ("id", "name", "description", "url", "email", "status", "fees", "minimum_age", "maximum_age",
               "assured_date", "last_modified", "organization", "fsm_source", "fsm_source_id")


def real_list(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Feed:
    services: list[dict]  # full documents (their list items are cut from them for "oruk3")
    shape: str = "oruk3"  # oruk3, list, v1
    honours_modified_after: bool = False
    fail: str | None = None  # timeout, 500, malformed, loop, repeat, endless, flaky, detail500
    fail_page: int = 2  # the page that fails (list failures)
    delay: float = 0.0  # seconds a failing request waits (timeout)
    flaky: int = 0  # flaky: the first N requests answer 500
    zero_based: bool = False  # v1: `number` counted from 0
    latency: float = 0.0  # seconds every answer waits (a server across the internet, for the bench)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def list_item(self, doc: dict) -> dict:
        if self.shape != "oruk3":
            return doc
        return {k: doc[k] for k in LIST_FIELDS if k in doc}


class Mimic:
    def __init__(self):
        self.feeds: dict[str, Feed] = {}
        mimic = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                mimic.answer(self)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the puller's workers connect at once (the default backlog is 5)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def add(self, name: str, services: list[dict], **kw) -> str:
        self.feeds[name] = Feed(services=list(services), **kw)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}/api/v3"

    # ---------------------------------------------------------------- answers

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        bits = [unquote(b) for b in parts.path.strip("/").split("/")]
        feed = self.feeds.get(bits[0]) if bits else None
        if feed is None or bits[1:3] != ["api", "v3"] or len(bits) < 4 or bits[3] != "services":
            return self.send(h, 404, {"error": "not found"})
        with feed.lock:
            feed.requests += 1
            n = feed.requests
        if feed.latency:
            time.sleep(feed.latency)
        if feed.fail == "flaky" and n <= feed.flaky:
            return self.send(h, 500, {"error": "try again"})
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if len(bits) == 5:
            return self.detail(h, feed, bits[4])
        if len(bits) != 4:
            return self.send(h, 404, {"error": "not found"})
        page = int(q.get("page", "1") or 1)
        per_page = int(q.get("per_page", "50") or 50)
        if feed.fail in ("timeout", "500", "malformed") and page == feed.fail_page:
            if feed.fail == "timeout":
                time.sleep(feed.delay)
                return self.send(h, 200, [])
            if feed.fail == "500":
                return self.send(h, 500, {"error": "Internal Server Error"})
            return self.send_bytes(h, 200, b'{"total_items": 10, "contents": [{"id": "a", "name": ')
        services = feed.services
        since = q.get("modified_after")
        if since and feed.honours_modified_after:
            t = datetime.fromisoformat(since.replace("Z", "+00:00"))
            services = [s for s in services if _modified(s) >= t]
        if feed.fail == "loop" and page >= feed.fail_page:
            page_shown = 1  # answers page 1 whatever is asked
        else:
            page_shown = page
        if feed.fail == "repeat" and page >= feed.fail_page:
            chunk = services[:per_page]  # the same services again, under the page number asked for
        else:
            chunk = services[(page_shown - 1) * per_page: page_shown * per_page]
        total_pages = max(1, -(-len(services) // per_page))
        if feed.fail == "endless":
            total_pages = 10 ** 6
            chunk = [dict(feed.list_item(services[0]), id=f"{services[0]['id']}-{page}")] if services else []
        items = [feed.list_item(s) for s in chunk]
        if feed.shape == "list":
            return self.send(h, 200, items)
        if feed.shape == "v1":
            return self.send(h, 200, {"totalElements": len(services), "totalPages": total_pages,
                                      "number": page_shown - 1 if feed.zero_based else page_shown,
                                      "size": per_page, "first": page_shown == 1,
                                      "last": page_shown >= total_pages, "content": items})
        return self.send(h, 200, {"total_items": len(services), "total_pages": total_pages,
                                  "page_number": page_shown, "size": len(items), "first_page": page_shown == 1,
                                  "last_page": page_shown >= total_pages, "empty": not items, "contents": items})

    def detail(self, h, feed: Feed, sid: str) -> None:
        doc = next((s for s in feed.services if str(s.get("id")) == sid), None)
        if doc is None:
            return self.send(h, 404, {"error": "no such service"})
        if feed.fail == "detail500" and sid == str(feed.services[min(len(feed.services) - 1, 3)]["id"]):
            return self.send(h, 500, {"error": "Internal Server Error"})
        return self.send(h, 200, doc)

    @staticmethod
    def send(h, status: int, body) -> None:
        Mimic.send_bytes(h, status, json.dumps(body).encode())

    @staticmethod
    def send_bytes(h, status: int, data: bytes) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _modified(doc: dict) -> datetime:
    v = doc.get("last_modified")
    if not v:
        return datetime(1970, 1, 1, tzinfo=timezone.utc)
    t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


if __name__ == "__main__":  # python -m tests.oruk_mimic DOCS.json [LATENCY]: serve them as feed "bench" in its own process
    import sys

    m = Mimic()
    url = m.add("bench", json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")),
                latency=float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
    print(url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        m.close()

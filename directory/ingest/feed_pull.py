"""Pull an Open Referral UK API: page its `/services`, then fetch `/services/{id}` for each service.

Nothing here writes: `pull` returns what the feed said (or raises FeedError), and `feeds.py`
validates it with the ORUK importer, reviews it against the directory and commits it.

A `/services` answer comes in one of three shapes (`Pull.shape`):
    list    a bare JSON list of services (HSDS-UK 1.0 APIs). Pages are asked for with
            `?page=N&per_page=M`; the last page is empty or shorter than M. A first page longer
            than M means the API ignores paging: it was the whole list.
    oruk3   ORUK 3.0: {"total_items", "total_pages", "page_number", "size", "first_page",
            "last_page", "empty", "contents": [...]}, pages numbered from 1.
    v1      the older paged object: {"content": [...], "totalElements", "totalPages",
            "number", "first", "last"} (`number` from 0 or from 1: told by the first answer).
Paging stops at the page that says it is the last (`last_page`, `last`, its number reaching the
total), or at an empty page.

`modified_after` (ORUK 3.0's query parameter, ISO 8601 UTC) asks only for services changed
since a time. Each service's full record (locations, schedules, contacts, taxonomy) comes
from `/services/{id}`, several at once (`Settings.workers`); a service whose record answers
404 is reported as missing (it may have just been removed), never guessed.

A pull fails as a whole (FeedError, nothing kept) when, after `retries` tries with exponential
backoff, a request still times out, can't connect or answers HTTP 5xx or 429; on any other
HTTP error of a list page; on an answer that is not JSON or not a shape above; when a page
answers with another page's number, or holds only services of earlier pages (the feed loops);
when more than `max_pages` pages would be needed; or when one answer exceeds `max_bytes`.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

USER_AGENT = "FamilySupportMap-feeds/1 (+Open Referral UK puller)"


@dataclass(frozen=True)
class Settings:
    timeout: float = 20.0  # seconds for one request: to connect, and for the whole answer
    retries: int = 3  # tries of one request (timeouts, connection errors, HTTP 5xx and 429)
    backoff: float = 1.0  # seconds before the second try, doubled before each next one
    max_pages: int = 500  # a feed needing more pages than this fails (a loop, or far too big)
    per_page: int = 100  # services asked for per page
    max_bytes: int = 50 * 1024 * 1024  # the largest answer read
    workers: int = 8  # /services/{id} requests at once
    details: bool = True  # fetch /services/{id} (False: the list's items are full records)


class FeedError(Exception):
    """The pull failed; the message says where and why (shown to stewards, kept as the feed's health)."""


@dataclass
class Pull:
    base_url: str
    shape: str = ""  # list, oruk3, v1
    pages: int = 0
    items: list[dict] = field(default_factory=list)  # the list pages' services, each id once, in order
    documents: list[dict] = field(default_factory=list)  # full records (/services/{id}), parallel to found ids
    missing: list[tuple[str, str]] = field(default_factory=list)  # (id, why): listed, but no full record
    total_items: int | None = None  # what the feed said it holds
    repeated: int = 0  # services a page listed again (same id)
    modified_after: datetime | None = None  # asked for services changed since (None: every service)
    requests: int = 0
    bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [item_id(i) for i in self.items]


def item_id(item) -> str:
    v = item.get("id") if isinstance(item, dict) else None
    return str(v).strip() if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip() else ""


def services_url(base_url: str) -> str:
    """The `/services` endpoint of a feed's base URL (a base ending /services is taken as it is)."""
    base = base_url.strip().rstrip("/")
    return base if base.endswith("/services") else base + "/services"


def check_base_url(base_url: str) -> str:
    """The base URL as stored, or ValueError saying what is wrong with it."""
    url = (base_url or "").strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"“{url[:100]}” is not a web address: give the API's base URL, e.g. "
                         "https://api.example.gov.uk/api/v1 (its /services lists the services).")
    if len(url) > 500:
        raise ValueError("The base URL is longer than 500 characters.")
    return url.rstrip("/")


def _utc(t: datetime) -> str:
    return (t.astimezone(timezone.utc) if t.tzinfo else t).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Retryable(Exception):
    pass


class Client:
    """GET JSON with a timeout for the whole answer, retries with backoff and a size cap."""

    def __init__(self, settings: Settings, opener: urllib.request.OpenerDirector | None = None, sleep=time.sleep):
        self.s = settings
        self.opener = opener or urllib.request.build_opener(urllib.request.ProxyHandler())  # *_proxy variables
        self.sleep = sleep
        self.requests = 0
        self.bytes = 0

    def _once(self, url: str):
        self.requests += 1
        req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        deadline = time.monotonic() + self.s.timeout
        try:
            with self.opener.open(req, timeout=self.s.timeout) as r:
                chunks, size = [], 0
                while True:
                    if time.monotonic() > deadline:
                        raise _Retryable(f"no complete answer within {self.s.timeout:g} s")
                    chunk = r.read(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > self.s.max_bytes:
                        raise FeedError(f"{url} answered more than {self.s.max_bytes / 1048576:g} MB: not read")
                    chunks.append(chunk)
        except urllib.error.HTTPError as e:
            if e.code >= 500 or e.code == 429:
                raise _Retryable(f"HTTP {e.code} {e.reason}") from e
            raise
        except (socket.timeout, TimeoutError) as e:
            raise _Retryable(f"no answer within {self.s.timeout:g} s") from e
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise _Retryable(f"no answer within {self.s.timeout:g} s") from e
            raise _Retryable(f"can't connect ({reason})") from e
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            raise _Retryable(f"the connection failed ({type(e).__name__}: {e})") from e
        body = b"".join(chunks)
        self.bytes += len(body)
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as e:
            raise _Retryable(f"the answer is not JSON ({str(e)[:120]})") from e

    def get(self, url: str, what: str):
        """The JSON at `url`; FeedError after the last try. HTTP 4xx (but 429) is raised at once."""
        for attempt in range(1, max(1, self.s.retries) + 1):
            try:
                return self._once(url)
            except _Retryable as e:
                if attempt >= max(1, self.s.retries):
                    tries = f" after {attempt} tries" if attempt > 1 else ""
                    raise FeedError(f"{what} ({url}): {e}{tries}") from None
                self.sleep(self.s.backoff * 2 ** (attempt - 1))


def _page_of(doc, asked: int, per_page: int, pull: Pull, first_number: list):
    """(services, is last page) of one /services answer; FeedError for a shape we can't read."""
    if isinstance(doc, list):
        pull.shape = pull.shape or "list"
        return doc, len(doc) < per_page or len(doc) > per_page or not doc
    if not isinstance(doc, dict):
        raise FeedError(f"page {asked} is a JSON {type(doc).__name__}, not a page of services")
    for key, shape, total_key, number_key, last_key, items_key in (
            ("contents", "oruk3", "total_pages", "page_number", "last_page", "total_items"),
            ("content", "v1", "totalPages", "number", "last", "totalElements")):
        if isinstance(doc.get(key), list):
            pull.shape = pull.shape or shape
            items = doc[key]
            total, number = doc.get(total_key), doc.get(number_key)
            if isinstance(doc.get(items_key), int):
                pull.total_items = doc[items_key]
            if isinstance(number, int) and not isinstance(number, bool):
                if not first_number:
                    first_number.append(asked - number)  # 0: numbered from 1 as asked; 1: from 0
                if number + first_number[0] != asked:
                    raise FeedError(f"asked for page {asked}, the feed answered page {number}: it loops")
            last = doc.get(last_key) is True or not items
            if isinstance(total, int) and not isinstance(total, bool):
                if total > 0 and asked >= total:
                    last = True
            return items, last
    keys = ", ".join(sorted(str(k) for k in doc)[:8])
    raise FeedError(f"page {asked} is not a page of services (no “contents” or “content” list; keys: {keys})")


def list_services(client: Client, base_url: str, settings: Settings, pull: Pull) -> None:
    """Page through /services into `pull.items` (each id once)."""
    url = services_url(base_url)
    seen: set[str] = set()
    first_number: list[int] = []
    first_ids: list[str] = []
    page = 1
    while True:
        if page > settings.max_pages:
            raise FeedError(f"more than {settings.max_pages} pages (the page cap): stopped; the feed may loop, or "
                            "raise the cap")
        params = {"page": page, "per_page": settings.per_page}
        if pull.modified_after is not None:
            params["modified_after"] = _utc(pull.modified_after)
        doc = client.get(f"{url}?{urllib.parse.urlencode(params)}", f"/services page {page}")
        items, last = _page_of(doc, page, settings.per_page, pull, first_number)
        if page == 2 and pull.shape == "list" and [item_id(i) for i in items] == first_ids:
            return  # a bare list that ignores paging (exactly per_page long): page 1 was all of it
        if page == 1:
            first_ids = [item_id(i) for i in items]
        pull.pages = page
        fresh = 0
        for item in items:
            sid = item_id(item)
            if not sid:
                pull.items.append(item if isinstance(item, dict) else {"_not_an_object": item})
                fresh += 1
            elif sid in seen:
                pull.repeated += 1
            else:
                seen.add(sid)
                pull.items.append(item)
                fresh += 1
        if items and not fresh and len(items) > 1:
            raise FeedError(f"page {page} lists only services of earlier pages: the feed loops")
        if last:
            return
        page += 1


def fetch_details(client: Client, base_url: str, settings: Settings, pull: Pull) -> None:
    """`/services/{id}` of every listed service, `settings.workers` at a time, in the list's order."""
    url = services_url(base_url)
    ids = pull.ids

    def one(sid: str):
        if not sid:
            return None, "the list gives no id"
        try:
            doc = client.get(f"{url}/{urllib.parse.quote(sid, safe='')}", f"/services/{sid}")
        except urllib.error.HTTPError as e:
            if e.code in (404, 410):
                return None, f"/services/{sid} answers HTTP {e.code}: listed, but it has no record (removed?)"
            raise FeedError(f"/services/{sid}: HTTP {e.code} {e.reason}") from None
        if not isinstance(doc, dict):
            return None, f"/services/{sid} is a JSON {type(doc).__name__}, not a service"
        if item_id(doc) != sid:
            return None, f"/services/{sid} answered another service (id {item_id(doc)[:60] or 'none'})"
        return doc, None

    with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
        futures = [pool.submit(one, sid) for sid in ids]
        try:
            results = [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    for sid, (doc, why) in zip(ids, results):
        if doc is None:
            pull.missing.append((sid, why))
        else:
            pull.documents.append(doc)


def pull(base_url: str, settings: Settings = Settings(), modified_after: datetime | None = None,
         opener: urllib.request.OpenerDirector | None = None, sleep=time.sleep) -> Pull:
    """Everything a feed lists, with each service's full record. Raises FeedError (see the module)."""
    t0 = time.perf_counter()
    result = Pull(base_url=base_url, modified_after=modified_after)
    client = Client(settings, opener, sleep)
    try:
        list_services(client, base_url, settings, result)
        if settings.details:
            fetch_details(client, base_url, settings, result)
        else:
            result.documents = [i for i in result.items if item_id(i)]
            result.missing = [("", "the list gives no id") for i in result.items if not item_id(i)]
    except urllib.error.HTTPError as e:
        raise FeedError(f"/services: HTTP {e.code} {e.reason}") from None
    finally:
        result.requests, result.bytes = client.requests, client.bytes
        result.seconds = time.perf_counter() - t0
    if result.total_items is not None and result.total_items != len(result.items) and modified_after is None:
        result.notes.append(f"The feed says it holds {result.total_items:,} services; its pages listed "
                            f"{len(result.items):,}.")
    if result.repeated:
        result.notes.append(f"{result.repeated} service(s) were listed twice (same id): taken once.")
    return result

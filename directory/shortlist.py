"""A shortlist of services <-> its link, so a health visitor can print it or send it.

The link carries only the services chosen (their ids), and the searched place only when the
person keeps it in (then distances are shown from it). Unknown ids are dropped (a service may
have closed since the link was made); links get truncated and edited by hand, so nothing fails.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

MAX_SERVICES = 30
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def decode(params) -> tuple[list[str], str | None]:
    """(service ids in the order chosen, without repeats; the place searched from or None)."""
    raws = params.get_all("ids") if hasattr(params, "get_all") else [params.get("ids") or ""]
    ids = [i.strip() for raw in raws for i in str(raw).split(",")]
    ids = list(dict.fromkeys(i for i in ids if _ID.match(i)))[:MAX_SERVICES]
    q = (params.get("q") or "").strip()[:100] or None
    return ids, q


def encode(ids, q: str | None = None) -> dict[str, str]:
    out = {"ids": ",".join(list(dict.fromkeys(ids))[:MAX_SERVICES])}
    if q and q.strip():
        out["q"] = q.strip()
    return out


def link(ids, q: str | None = None, base: str = "shortlist") -> str:
    """The shortlist page's address (relative to the app's pages unless `base` is a full URL)."""
    return f"{base}?{urlencode(encode(ids, q), safe=',')}"


def service_link(service_id: str, base: str = "service") -> str:
    return f"{base}?{urlencode({'id': service_id})}"

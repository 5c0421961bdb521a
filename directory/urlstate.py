"""Search state <-> URL query parameters, so a health visitor can send a family a link.

Only what the family chose is in the link (their search text, radius and filters);
the app never stores or logs it. Unknown or out-of-range values are dropped or
clamped rather than failing, because links get truncated and edited by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .taxonomy import BY_CODE, stage_code

RADII_KM = (0.5, 1.0, 1.6, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0)
DEFAULT_RADIUS_KM = 2.0


@dataclass
class SearchState:
    q: str = ""
    radius_km: float = DEFAULT_RADIUS_KM
    types: list[str] = field(default_factory=list)
    self_referral: bool = False
    free_only: bool = False
    stage: str | None = None
    at: str | None = None  # chosen place code when a name was ambiguous


def _flag(v) -> bool:
    return str(v).lower() in {"1", "true", "yes", "on"}


def param_types(params) -> list[str]:
    """Known taxonomy codes from `types` (repeated or comma-separated), in order, without repeats."""
    raws = params.get_all("types") if hasattr(params, "get_all") else [params.get("types") or ""]
    return list(dict.fromkeys(t for raw in raws for t in str(raw).split(",") if t in BY_CODE))


def param_radius(params, radii: tuple[float, ...], default: float) -> float:
    """`radius` snapped to the nearest of the offered `radii` (the default when unreadable)."""
    try:
        radius = float(params.get("radius") or default)
    except ValueError:
        radius = default
    return min(radii, key=lambda r: abs(r - radius))


def decode(params) -> SearchState:
    """From st.query_params (a mapping of str to str; `types` may repeat or be comma-separated)."""
    get = params.get
    return SearchState(
        q=(get("q") or "").strip()[:100],
        radius_km=param_radius(params, RADII_KM, DEFAULT_RADIUS_KM),
        types=param_types(params),
        self_referral=_flag(get("self")),
        free_only=_flag(get("free")),
        stage=stage_code(get("stage")),  # old codes in shared links map to today's stages
        at=(get("at") or None),
    )


def encode(s: SearchState) -> dict[str, str]:
    """Only the non-default parts, for short links."""
    out: dict[str, str] = {}
    if s.q:
        out["q"] = s.q
    if s.at:
        out["at"] = s.at
    if s.radius_km != DEFAULT_RADIUS_KM:
        out["radius"] = f"{s.radius_km:g}"
    if s.types:
        out["types"] = ",".join(s.types)
    if s.self_referral:
        out["self"] = "1"
    if s.free_only:
        out["free"] = "1"
    if s.stage:
        out["stage"] = s.stage
    return out

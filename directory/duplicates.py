"""The same place from two sources: find the pairs, store a steward's decision, show families one entry.

A children's centre is listed by DfE's register (GIAS) and often again by its council's
own directory feed. The rule for a candidate pair (two active services):
1. from different sources, and sharing at least one of our service types;
2. at the same postcode (compared without spaces, case-insensitively), or with places
   within `NEAR_M` (150 m) of each other in British National Grid metres;
3. with similar names: the similarity of their distinctive words is at least
   `SAME_POSTCODE_SIMILARITY` (0.5) at the same postcode, or `NEAR_SIMILARITY` (0.8) when
   only near. Names are compared as sets of words (case, apostrophes and punctuation
   ignored, "&" read as "and"), without the words every centre has (`GENERIC`: children's,
   centre, family, hub, sure start, the, and ...); a name made only of such words keeps
   them. The similarity is Dice's coefficient, 2 x shared words / (words of one + words of
   the other): "Petteril Bank Family Hub" and "Carlisle South Petteril Bank Upperby SureStart
   Children's Centre" score 2x2/(2+5) = 0.57; a session held at a centre ("Cost of living
   service - Welcoming Space - Bishopsworth Children's Centre" beside "Bishopsworth
   Children's Centre") 2x1/(5+1) = 0.33, not a candidate.
   A hub of DfE's list of family hub sites and a GIAS children's centre at the same postcode
   are a candidate whatever their names (`SAME_PLACE_SOURCES`): many hubs are children's
   centres renamed ("... Family Hub" in a building GIAS still lists as "... Children's Centre").

A steward then links the pair ("same": one place) or keeps it apart ("different"); the
decision is stored (`service_link`) and the pair is not asked again. Families see each
linked group as one entry (`merge_linked`): the record with more of the family-critical
facts (`quality`) is shown, its blank details filled from the other, and the entry names
every source.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sqlalchemy import select

from . import quality, text
from .ingest.family_hubs import SOURCE as FAMILY_HUBS_SOURCE
from .ingest.gias_cc import CHILDRENS_CENTRES_SOURCE
from .model import ServiceLink, utcnow
from .store import Directory, bump_version

NEAR_M = 150.0
SAME_POSTCODE_SIMILARITY = 0.5
NEAR_SIMILARITY = 0.8
GENERIC = frozenset({
    "the", "and", "of", "at", "in", "for", "childrens", "children", "child", "centre", "centres", "center",
    "family", "families", "hub", "hubs", "sure", "start", "surestart", "cc", "linked", "site", "early", "years",
    "services", "service",
})
DECISIONS = ("same", "different")
#: pairs of sources whose services at one postcode are offered whatever their names (rule 3)
SAME_PLACE_SOURCES = frozenset({frozenset({FAMILY_HUBS_SOURCE, CHILDRENS_CENTRES_SOURCE})})
#: service-level details a linked entry takes from its partner when its own are blank
FILLED = ("phone", "email", "url", "schedule", "fees", "is_free", "referral", "referral_notes", "min_age_months",
          "max_age_months", "eligibility", "languages", "description")


def name_words(name) -> frozenset[str]:
    s = str(name or "").casefold().replace("\u2019", "'").replace("&", " and ")
    s = re.sub(r"'s\b", "s", s)
    words = [w for w in re.split(r"[^0-9a-z]+", s) if w]
    distinctive = [w for w in words if w not in GENERIC]
    return frozenset(distinctive or words)


def name_similarity(a, b) -> float:
    wa, wb = name_words(a), name_words(b)
    if not wa or not wb:
        return 0.0
    return 2 * len(wa & wb) / (len(wa) + len(wb))


def _postcode(v) -> str:
    return "" if text.is_blank(v) else re.sub(r"\s+", "", str(v).upper())


def candidate_pairs(services: pd.DataFrame) -> pd.DataFrame:
    """Pairs of services that look like one place (the rule above), most similar first.

    `services` is the flat service table (one row per location). Columns out: service_a,
    service_b (service_a < service_b), name_a, name_b, source_a, source_b, postcode_a,
    postcode_b, distance_m, similarity, reason."""
    cols = ["service_a", "service_b", "name_a", "name_b", "source_a", "source_b", "postcode_a", "postcode_b",
            "distance_m", "similarity", "reason"]
    if services.empty:
        return pd.DataFrame(columns=cols)
    df = services.reset_index(drop=True)
    pcs = df["postcode"].map(_postcode).to_numpy()
    xy = df[["x", "y"]].to_numpy(float)
    types = df["types"].map(lambda ts: frozenset(ts or ())).to_numpy()
    found: dict[tuple[str, str], dict] = {}

    def consider(i: int, j: int) -> None:
        a, b = df.at[i, "service_id"], df.at[j, "service_id"]
        if a == b or df.at[i, "source"] == df.at[j, "source"] or not (types[i] & types[j]):
            return
        same_pc = bool(pcs[i]) and pcs[i] == pcs[j]
        dist = float(np.hypot(*(xy[i] - xy[j])))
        sim = name_similarity(df.at[i, "name"], df.at[j, "name"])
        renamed = same_pc and frozenset((df.at[i, "source"], df.at[j, "source"])) in SAME_PLACE_SOURCES
        if not ((same_pc and sim >= SAME_POSTCODE_SIMILARITY) or renamed
                or (dist <= NEAR_M and sim >= NEAR_SIMILARITY)):
            return
        if a > b:
            i, j, a, b = j, i, b, a
        key = (a, b)
        row = {"service_a": a, "service_b": b, "name_a": df.at[i, "name"], "name_b": df.at[j, "name"],
               "source_a": df.at[i, "source"], "source_b": df.at[j, "source"], "postcode_a": df.at[i, "postcode"],
               "postcode_b": df.at[j, "postcode"], "distance_m": round(dist, 1), "similarity": round(sim, 3),
               "reason": ("same postcode" if sim >= SAME_POSTCODE_SIMILARITY or not renamed
                          else "same postcode (a family hub at a children's centre)") if same_pc
               else f"within {NEAR_M:g} m"}
        old = found.get(key)
        if old is None or (row["similarity"], -row["distance_m"]) > (old["similarity"], -old["distance_m"]):
            found[key] = row

    by_pc: dict[str, list[int]] = defaultdict(list)
    for i, pc in enumerate(pcs):
        if pc:
            by_pc[pc].append(i)
    for rows in by_pc.values():
        for k, i in enumerate(rows):
            for j in rows[k + 1:]:
                consider(i, j)
    ok = np.isfinite(xy).all(axis=1)
    idx = np.flatnonzero(ok)
    if len(idx) > 1:
        for i, j in cKDTree(xy[idx]).query_pairs(NEAR_M):
            consider(int(idx[i]), int(idx[j]))
    out = pd.DataFrame(list(found.values()), columns=cols)
    return out.sort_values(["similarity", "distance_m", "name_a"], ascending=[False, True, True],
                           ignore_index=True)


# ---------------------------------------------------------------- decisions


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def decisions(directory: Directory) -> dict[tuple[str, str], str]:
    with directory.engine.connect() as c:
        return {(a, b): d for a, b, d in c.execute(select(ServiceLink.service_a, ServiceLink.service_b,
                                                          ServiceLink.decision))}


def decide(directory: Directory, a: str, b: str, decision: str, actor: str) -> None:
    """Store (or change) a steward's decision on a pair: "same" or "different"."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
    if not actor or not actor.strip():
        raise ValueError("Say who you are: every decision records who made it.")
    if a == b:
        raise ValueError("A service can't be paired with itself.")
    a, b = _ordered(a, b)
    with directory.Session.begin() as s:
        link = s.scalar(select(ServiceLink).where(ServiceLink.service_a == a, ServiceLink.service_b == b))
        if link is None:
            s.add(ServiceLink(service_a=a, service_b=b, decision=decision, decided_by=actor.strip()[:200],
                              decided_at=utcnow()))
        else:
            link.decision, link.decided_by, link.decided_at = decision, actor.strip()[:200], utcnow()
        bump_version(s)  # families' list shows linked places once: every page re-reads it


def pairs_for_review(services: pd.DataFrame, directory: Directory, include_decided: bool = False) -> pd.DataFrame:
    """Candidate pairs with the stored decision (blank: not decided yet); undecided ones only by default."""
    pairs = candidate_pairs(services)
    known = decisions(directory)
    pairs["decision"] = [known.get((a, b), "") for a, b in zip(pairs.service_a, pairs.service_b)]
    return pairs if include_decided else pairs[pairs.decision == ""].reset_index(drop=True)


def same_links(directory: Directory) -> list[tuple[str, str]]:
    return [k for k, d in decisions(directory).items() if d == "same"]


# ---------------------------------------------------------------- what families see


def merge_linked(services: pd.DataFrame, links: list[tuple[str, str]]) -> pd.DataFrame:
    """The flat service table with each group of linked services shown once.

    Each group (linked pairs, joined transitively) keeps the rows of its record with the
    highest quality score (ties: the one whose id sorts first); blank details of that
    record are filled from the others (`FILLED`, in score order); `source` names every
    source in the group (the shown record's first, joined by "; ") and `linked_ids` lists
    the ids of the records folded into it."""
    if not links or services.empty:
        return services
    present = set(services["service_id"])
    parent: dict[str, str] = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in links:
        if a in present and b in present:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    if not parent:
        return services
    groups: dict[str, list[str]] = defaultdict(list)
    for sid in set(parent) | set(parent.values()):
        groups[find(sid)].append(sid)
    scores = quality.record_quality(services[services.service_id.isin(list(parent) + list(parent.values()))])
    score = dict(zip(scores.service_id, scores.score))
    out = services.copy()
    if "linked_ids" not in out:
        out["linked_ids"] = [[] for _ in range(len(out))]
    drop: set[str] = set()
    first = services.drop_duplicates("service_id").set_index("service_id")
    for members in groups.values():
        members = sorted(members, key=lambda s: (-score.get(s, 0), s))
        keep, rest = members[0], members[1:]
        rows = out.index[out.service_id == keep]
        for col in FILLED:
            if col not in out:
                continue
            for other in rest:
                v = first.at[other, col]
                if not text.is_blank(v):
                    for r in rows:
                        if text.is_blank(out.at[r, col]):
                            out.at[r, col] = v
        sources = list(dict.fromkeys([first.at[keep, "source"]] + [first.at[o, "source"] for o in rest]))
        for r in rows:
            out.at[r, "source"] = "; ".join(sources)
            out.at[r, "linked_ids"] = list(rest)
        drop.update(rest)
    return out[~out.service_id.isin(drop)].reset_index(drop=True)

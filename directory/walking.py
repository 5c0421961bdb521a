"""Walking distances along real paths, from OpenStreetMap extracts.

    raw folder: *.osm.pbf (any number: a Geofabrik county, a region, overlapping halves)
        -> data/build/walking/network.npz + network.json (inputs' sizes and checksums: rebuilt
           only when an extract is added, removed or changed)

The network
- Walkable ways: `highway` in WALKABLE_HIGHWAYS (footways, paths, steps, pedestrian streets,
  residential and service roads, tracks, bridleways, cycleways, and ordinary roads from
  unclassified to trunk, which in England have pavements or verges and may be walked unless
  signed otherwise). Left out: motorways and their links (walking is banned), roads under
  construction or only proposed, platforms and areas of other kinds, and every way tagged
  `foot` = no / private / use_sidepath, or `access` = no / private unless `foot` allows it
  (yes, designated, permissive, destination). Walking ignores `oneway`.
- Nodes: every node of a walkable way (OSM node id), projected to British National Grid
  (EPSG:27700). Edges: consecutive nodes of a way, length = the straight BNG distance
  between them, in metres; a pair met twice (the same way in two overlapping extracts)
  is kept once. A way whose node is missing from the extract (cut at its edge) is split
  there, never joined across the gap.
- Several extracts make one network (nodes are matched by OSM id), so England is processed
  as regions with an overlap buffer and the merged network gives the same distances as the
  whole file (tests/test_walking.py cuts the Nottingham extract in two to show it).

Routing: Dijkstra's algorithm in scipy.sparse.csgraph (compiled; a CSR adjacency matrix),
with a distance limit for catchments and a multi-source run (all services at once) for
"nearest". No Python loop over nodes.

From a point to a service:
    walk_m = snap(origin) + network distance(node_o, node_s) + snap(service)
snap(p) = straight distance from p to its nearest network node (KD-tree). By the triangle
inequality walk_m >= straight-line distance, always. A point is covered by the network when
it lies inside an extract's bounding box and snaps within SNAP_LIMIT_M; elsewhere callers
keep the straight line and say so.

Minutes = walk_m / speed, at WALKING_KMH (4.8 km/h) or PRAM_KMH (3.2 km/h, pushing a pram with
a toddler; both are planning assumptions, shown to users).

Per LSOA (lsoa_walks): nearest_walk_km (the shortest walk to any covered service of the kinds
asked), walk_detour (that walk / the straight line to the same service: 1.0 is a direct
route, 2 or more means a railway, river, ring road or a fenced estate is in the way),
n_walk_within (services within a walking time, default 20 min), and walk_basis. nearest_walk_km
is left blank when the LSOA is not covered, or when a service outside the network is closer
as the crow flies than the walk found (the true nearest walk could then be to that one).

Data: © OpenStreetMap contributors, ODbL 1.0 (a derived database shared publicly stays ODbL).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from . import config
from .crs import TO_BNG as _TO_BNG
from .sources import file_digest
from .text import walk_text

WALKING_KMH = config.WALKING_KMH
PRAM_KMH = 3.2  # 2 mph: an assumption for pushing a pram with a toddler in tow
WALK_WITHIN_MIN = 20.0  # default "services within a walking time"
SNAP_LIMIT_M = 250.0  # a point farther than this from any walkable node is not covered
MIN_COMPONENT_NODES = 100  # points snap to pieces of network at least this big (or the biggest piece)
ATTRIBUTION = "Walking routes: © OpenStreetMap contributors (ODbL)."
NETWORK_VERSION = 1

WALKABLE_HIGHWAYS = frozenset({
    "footway", "path", "pedestrian", "steps", "living_street", "residential", "service", "track",
    "bridleway", "cycleway", "unclassified", "road", "tertiary", "tertiary_link", "secondary",
    "secondary_link", "primary", "primary_link", "trunk", "trunk_link", "corridor", "elevator",
})
FOOT_NO = frozenset({"no", "private", "use_sidepath"})
ACCESS_NO = frozenset({"no", "private"})
FOOT_YES = frozenset({"yes", "designated", "permissive", "destination"})

Progress = Callable[[float, str], None]


def walkable(tags) -> bool:
    """Whether a way with these OSM tags (a mapping) may be walked (rules in the module docstring)."""
    if tags.get("highway") not in WALKABLE_HIGHWAYS:
        return False
    foot = tags.get("foot")
    if foot in FOOT_NO:
        return False
    if tags.get("access") in ACCESS_NO and foot not in FOOT_YES:
        return False
    return True


# ---------------------------------------------------------------- reading extracts


@dataclass
class Extract:
    """The walkable part of one or more OSM files, before it becomes a graph."""

    ids: np.ndarray  # OSM node ids, one per node
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray  # edge ends: indices into ids
    v: np.ndarray
    boxes: list[tuple[float, float, float, float]]  # lon/lat bounding boxes of the files
    ways: int


def read_extracts(paths, progress: Progress | None = None) -> Extract:
    """Walkable ways of the OSM files (PBF or XML) at `paths`, merged by OSM node id (edges by node pair)."""
    import osmium

    say = progress or (lambda f, m: None)
    seen_ways: set[int] = set()
    node_ids: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    run_ids: list[np.ndarray] = []  # per node kept: which run (piece of a way) it belongs to
    boxes = []
    run = 0
    paths = [Path(p) for p in paths]
    for k, path in enumerate(paths):
        say(k / max(len(paths), 1) * 0.8, f"reading {path.name}")
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        box = reader.header().box()
        reader.close()
        fp = osmium.FileProcessor(str(path)).with_locations().with_filter(osmium.filter.KeyFilter("highway"))
        w_lon, w_lat = [], []
        for obj in fp:
            # a way met again in an overlapping extract is read again: cut at a different place, it
            # may hold other pieces; pairs met twice are kept once (network_from_extract)
            if not obj.is_way() or not walkable(obj.tags):
                continue
            seen_ways.add(obj.id)
            ids, xs, ys, runs = [], [], [], []
            for n in obj.nodes:
                loc = n.location
                if not loc.valid():
                    run += 1  # the way leaves the extract here: start a new piece
                    continue
                ids.append(n.ref)
                xs.append(loc.lon)
                ys.append(loc.lat)
                runs.append(run)
                w_lon.append(loc.lon)
                w_lat.append(loc.lat)
            run += 1
            if ids:
                node_ids.append(np.asarray(ids, np.int64))
                lons.append(np.asarray(xs, float))
                lats.append(np.asarray(ys, float))
                run_ids.append(np.asarray(runs, np.int64))
        if box.valid():
            boxes.append((box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat))
        elif w_lon:
            boxes.append((min(w_lon), min(w_lat), max(w_lon), max(w_lat)))
    if not node_ids:
        e = np.array([], np.int64)
        return Extract(e, e.astype(float), e.astype(float), e, e.copy(), boxes, 0)
    all_ids = np.concatenate(node_ids)
    all_lon = np.concatenate(lons)
    all_lat = np.concatenate(lats)
    runs = np.concatenate(run_ids)
    uniq, first, inverse = np.unique(all_ids, return_index=True, return_inverse=True)
    same_run = runs[1:] == runs[:-1]
    u, v = inverse[:-1][same_run], inverse[1:][same_run]
    return Extract(uniq, all_lon[first], all_lat[first], u, v, boxes, len(seen_ways))


# ---------------------------------------------------------------- the network


@dataclass
class Network:
    ids: np.ndarray  # OSM node id per node
    x: np.ndarray  # BNG metres
    y: np.ndarray
    u: np.ndarray  # undirected edges, u < v, each pair once
    v: np.ndarray
    length: np.ndarray  # metres
    boxes: list[tuple[float, float, float, float]]  # BNG boxes (xmin, ymin, xmax, ymax) of the extracts
    info: dict

    def __post_init__(self):
        n = len(self.ids)
        self.graph = sparse.coo_matrix(
            (np.concatenate([self.length, self.length]), (np.concatenate([self.u, self.v]),
                                                          np.concatenate([self.v, self.u]))),
            shape=(n, n),
        ).tocsr()
        # points snap only to nodes of sizeable pieces of network: an isolated footway in a park
        # (a piece whose links to the streets are not mapped) would otherwise strand them
        self.n_components, label = csgraph.connected_components(self.graph, directed=False)
        size = np.bincount(label) if n else np.zeros(0, int)
        big = size >= min(MIN_COMPONENT_NODES, size.max() if n else 0)
        self.snappable = np.flatnonzero(big[label]) if n else np.zeros(0, np.intp)
        self.tree = cKDTree(np.column_stack([self.x[self.snappable], self.y[self.snappable]])) if n else None

    @property
    def n_nodes(self) -> int:
        return len(self.ids)

    @property
    def n_edges(self) -> int:
        return len(self.u)

    # ---- points on the network

    def in_boxes(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, float).reshape(-1, 2)
        inside = np.zeros(len(xy), bool)
        for x0, y0, x1, y1 in self.boxes:
            inside |= (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        return inside

    def snap(self, xy, limit_m: float = SNAP_LIMIT_M) -> "Snap":
        """Nearest network node of each BNG point, its distance, and whether the point is covered."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        if self.tree is None or len(xy) == 0:
            return Snap(np.zeros(len(xy), np.intp), np.full(len(xy), np.inf), np.zeros(len(xy), bool))
        d, idx = self.tree.query(xy, k=1)
        return Snap(self.snappable[idx].astype(np.intp), d, (d <= limit_m) & self.in_boxes(xy))

    # ---- distances

    def node_distances(self, sources: np.ndarray, limit_m: float = np.inf, targets: np.ndarray | None = None,
                       chunk_bytes: float = 2e8) -> np.ndarray:
        """Network metres from each source node to every node (or to `targets`), inf beyond
        `limit_m` or unreachable. Sources go in chunks so memory stays under ~chunk_bytes."""
        sources = np.asarray(sources, np.intp)
        width = self.n_nodes if targets is None else len(targets)
        out = np.empty((len(sources), width))
        step = max(1, int(chunk_bytes // (8 * max(self.n_nodes, 1))))
        for s in range(0, len(sources), step):
            # the matrix holds both directions of every edge: directed=True skips scipy's symmetrising copy
            d = csgraph.dijkstra(self.graph, directed=True, indices=sources[s:s + step], limit=limit_m)
            out[s:s + step] = d if targets is None else d[:, targets]
        return out

    def distances(self, origins_xy, dests_xy, limit_m: float = np.inf) -> np.ndarray:
        """Walking metres from each origin to each destination (both BNG points), snaps included;
        NaN where either end is not covered, inf where beyond `limit_m` or unconnected."""
        so, sd = self.snap(origins_xy), self.snap(dests_xy)
        out = np.full((len(so.node), len(sd.node)), np.nan)
        oi, di = np.flatnonzero(so.covered), np.flatnonzero(sd.covered)
        if len(oi) and len(di):
            uo, inv_o = np.unique(so.node[oi], return_inverse=True)
            ud, inv_d = np.unique(sd.node[di], return_inverse=True)
            if len(ud) < len(uo):  # walking is symmetric: search from the smaller side
                net = self.node_distances(ud, limit_m, targets=uo).T[inv_o][:, inv_d]
            else:
                net = self.node_distances(uo, limit_m, targets=ud)[inv_o][:, inv_d]
            total = net + so.dist[oi, None] + sd.dist[None, di]
            total[total > limit_m] = np.inf
            out[np.ix_(oi, di)] = total
        return out

    def nearest(self, origins_xy, dests_xy) -> tuple[np.ndarray, np.ndarray]:
        """For each origin: walking metres to the nearest covered destination and its index
        (NaN and -1 where the origin is not covered; inf and -1 where none is reachable).
        One multi-source Dijkstra run from all destinations at once."""
        so, sd = self.snap(origins_xy), self.snap(dests_xy)
        n = self.n_nodes
        dist = np.full(len(so.node), np.nan)
        which = np.full(len(so.node), -1, np.intp)
        di = np.flatnonzero(sd.covered)
        if len(di) == 0:
            dist[so.covered] = np.inf
            return dist, which
        # one virtual node per destination, joined to its snapped node by the snap distance
        k = len(di)
        virt = np.arange(n, n + k)
        w = np.maximum(sd.dist[di], 1e-9)  # an explicit edge even when a service sits on a node
        extra = sparse.coo_matrix((w, (virt, sd.node[di])), shape=(n + k, n + k)).tocsr()
        g = sparse.bmat([[self.graph, None], [None, sparse.csr_matrix((k, k))]]).tocsr() + extra + extra.T
        d, _, src = csgraph.dijkstra(g, directed=True, indices=virt, min_only=True, return_predecessors=True)
        oi = np.flatnonzero(so.covered)
        nodes = so.node[oi]
        dist[oi] = d[nodes] + so.dist[oi]
        ok = np.isfinite(d[nodes])
        which[oi[ok]] = di[src[nodes[ok]] - n]
        return dist, which


@dataclass
class Snap:
    node: np.ndarray
    dist: np.ndarray  # metres
    covered: np.ndarray  # bool


def network_from_extract(ex: Extract, info: dict | None = None) -> Network:
    x, y = _TO_BNG.transform(ex.lon, ex.lat)
    x, y = np.asarray(x, float), np.asarray(y, float)
    u, v = np.minimum(ex.u, ex.v), np.maximum(ex.u, ex.v)
    keep = u != v
    u, v = u[keep], v[keep]
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    # each pair once, the shortest if a pair came twice
    order = np.lexsort((length, v, u))
    u, v, length = u[order], v[order], length[order]
    first = np.ones(len(u), bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    boxes = []
    for lon0, lat0, lon1, lat1 in ex.boxes:
        bx, by = _TO_BNG.transform([lon0, lon1, lon0, lon1], [lat0, lat0, lat1, lat1])
        boxes.append((min(bx), min(by), max(bx), max(by)))
    info = dict(info or {})
    info.update(nodes=int(len(ex.ids)), edges=int(first.sum()), ways=int(ex.ways),
                km=round(float(length[first].sum()) / 1000, 1))
    return Network(ex.ids, x, y, u[first].astype(np.int64), v[first].astype(np.int64), length[first], boxes, info)


def build_network(paths, progress: Progress | None = None) -> Network:
    """The walking network of the OSM files at `paths` (merged)."""
    say = progress or (lambda f, m: None)
    t0 = time.perf_counter()
    ex = read_extracts(paths, progress)
    say(0.85, f"walking network: {len(ex.ids):,} nodes from {ex.ways:,} ways")
    net = network_from_extract(ex, {"files": [Path(p).name for p in paths]})
    net.info["seconds"] = round(time.perf_counter() - t0, 2)
    return net


# ---------------------------------------------------------------- built once, reused


def osm_files(raw: Path | None = None) -> list[Path]:
    """Every *.osm.pbf in the raw folder and its sub-folders (source key `osm`, optional)."""
    from .sources import catalogue, find_files

    return sorted(find_files(catalogue()["osm"], config.raw_dir(raw)))


def _inputs_record(paths) -> dict:
    out = {}
    for p in paths:
        st = p.stat()
        out[str(p)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return out


def _same_inputs(old: dict, paths) -> bool:
    now = _inputs_record(paths)
    if set(now) != set(old):
        return False
    for name, rec in now.items():
        prev = old[name]
        if (rec["size"], rec["mtime_ns"]) != (prev["size"], prev["mtime_ns"]):
            if prev.get("sha256") != file_digest(Path(name)):
                return False
    return True


def save(net: Network, folder: Path, inputs: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "network.tmp.npz"
    np.savez(tmp, ids=net.ids, x=net.x, y=net.y, u=net.u, v=net.v, length=net.length,
             boxes=np.asarray(net.boxes, float).reshape(-1, 4))
    tmp.replace(folder / "network.npz")
    meta = {"version": NETWORK_VERSION, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "inputs": inputs, "info": net.info}
    (folder / "network.json").write_text(json.dumps(meta, indent=1))


def load(folder: Path) -> Network:
    z = np.load(folder / "network.npz")
    meta = json.loads((folder / "network.json").read_text())
    return Network(z["ids"], z["x"], z["y"], z["u"], z["v"], z["length"], [tuple(b) for b in z["boxes"]],
                   meta["info"])


def network_dir(out: Path | None = None) -> Path:
    return config.build_dir(out) / "walking"


def needs_network(raw: Path | None = None, out: Path | None = None) -> bool:
    folder = network_dir(out)
    meta = folder / "network.json"
    paths = osm_files(raw)
    if not meta.exists() or not (folder / "network.npz").exists():
        return bool(paths)
    old = json.loads(meta.read_text())
    return old.get("version") != NETWORK_VERSION or not _same_inputs(old.get("inputs", {}), paths)


def ensure_network(raw: Path | None = None, out: Path | None = None, progress: Progress | None = None) -> Network | None:
    """The walking network of the raw folder's OSM extracts, built (with progress) only when they
    changed; None when the folder holds no extract."""
    paths = osm_files(raw)
    folder = network_dir(out)
    if not paths:
        return None
    if needs_network(raw, out):
        net = build_network(paths, progress)
        inputs = _inputs_record(paths)
        for name in inputs:
            inputs[name]["sha256"] = file_digest(Path(name))
        save(net, folder, inputs)
        (progress or (lambda f, m: None))(1.0, f"walking network built in {net.info['seconds']} s")
        return net
    return load(folder)


# ---------------------------------------------------------------- answers for the app


def minutes(walk_m, kmh: float = WALKING_KMH):
    return np.asarray(walk_m, float) / 1000.0 / kmh * 60.0


def add_walks(net: Network | None, x: float, y: float, table: pd.DataFrame, kmh: float = WALKING_KMH) -> pd.DataFrame:
    """`table` (services with x, y and straight-line distance_km) with walk_km, walk_min and
    walk_basis ("paths" where origin and service are covered, else "straight line", whose
    walk_km is the straight distance); ordered by walk_km. Also origin_snap_m."""
    out = table.copy()
    straight = out["distance_km"].to_numpy(float)
    walk = np.full(len(out), np.nan)
    snap_m = np.nan
    if net is not None and len(out):
        o = net.snap([[x, y]])
        snap_m = float(o.dist[0])
        if o.covered[0]:
            walk = net.distances([[x, y]], out[["x", "y"]].to_numpy(float))[0] / 1000.0
    along = np.isfinite(walk)
    out["walk_km"] = np.where(along, walk, straight)
    out["walk_basis"] = np.where(along, "paths", "straight line")
    out["walk_min"] = minutes(out["walk_km"].to_numpy(float) * 1000.0, kmh)
    out["origin_snap_m"] = snap_m
    return out.sort_values(["walk_km", "name"] if "name" in out else ["walk_km"], kind="stable", ignore_index=True)


def walk_label(minutes_: float, basis: str) -> str:
    """'about 12 min walk along paths' or 'about 12 min walk (straight line)'."""
    t = walk_text(minutes_)
    if t == "too far to walk":
        return t
    return f"{t} along paths" if basis == "paths" else f"{t} (straight line)"


LSOA_WALK_COLUMNS = ["nearest_walk_km", "nearest_line_km", "walk_detour", "n_walk_within", "walk_basis", "snap_m"]


def lsoa_walks(net: Network | None, lsoa: pd.DataFrame, services: pd.DataFrame, *,
               within_min: float = WALK_WITHIN_MIN, kmh: float = WALKING_KMH) -> pd.DataFrame:
    """Per row of `lsoa` (x, y: population-weighted centroids), in the same order: nearest_walk_km,
    nearest_line_km (the straight line to that same service), walk_detour, n_walk_within (services within `within_min` minutes at `kmh`), walk_basis
    ("paths" or "not covered") and snap_m. Rules in the module docstring."""
    n = len(lsoa)
    out = pd.DataFrame({"nearest_walk_km": np.full(n, np.nan), "nearest_line_km": np.full(n, np.nan),
                        "walk_detour": np.full(n, np.nan),
                        "n_walk_within": pd.array([pd.NA] * n, dtype="Int64"),
                        "walk_basis": np.full(n, "not covered", dtype=object), "snap_m": np.full(n, np.nan)})
    if net is None or n == 0:
        return out
    o = lsoa[["x", "y"]].to_numpy(float)
    s = services[["x", "y"]].to_numpy(float) if len(services) else np.zeros((0, 2))
    so = net.snap(o)
    out["snap_m"] = so.dist
    cov = so.covered
    out.loc[cov, "walk_basis"] = "paths"
    if len(s) == 0:
        out.loc[cov, "n_walk_within"] = 0
        return out
    walk_m, which = net.nearest(o, s)
    ok = cov & (which >= 0)
    crow_same = np.full(n, np.nan)
    crow_same[ok] = np.hypot(*(o[ok] - s[which[ok]]).T)
    # a service the network does not cover, closer as the crow flies than the walk found, could be nearer on foot
    sd = net.snap(s)
    unknown = np.zeros(n, bool)
    if (~sd.covered).any() and ok.any():
        t = cKDTree(s[~sd.covered])
        dmin, _ = t.query(o[ok], k=1)
        unknown[np.flatnonzero(ok)] = dmin < walk_m[ok]
    good = ok & ~unknown
    out.loc[good, "nearest_walk_km"] = walk_m[good] / 1000.0
    out.loc[good, "nearest_line_km"] = crow_same[good] / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        det = np.where(crow_same > 0, walk_m / crow_same, 1.0)
    out.loc[good, "walk_detour"] = det[good]
    limit = within_min / 60.0 * kmh * 1000.0
    counts = np.zeros(n, np.int64)
    ci = np.flatnonzero(cov)
    if len(ci):
        d = net.distances(o[ci], s, limit_m=limit)
        counts[ci] = np.sum(np.isfinite(d) & (d <= limit), axis=1)
    out.loc[cov, "n_walk_within"] = counts[cov]
    return out


def walking_pairs(net: Network, origins: np.ndarray, dests: np.ndarray, radius_m: float):
    """access.Pairs within `radius_m` for the FCA code, walking where both ends are covered and the
    straight line otherwise. Returns (pairs, origin_walked: bool per origin)."""
    from .access import Pairs, pairs_within

    origins = np.asarray(origins, float).reshape(-1, 2)
    dests = np.asarray(dests, float).reshape(-1, 2)
    so, sd = net.snap(origins), net.snap(dests)
    line = pairs_within(origins, dests, radius_m)
    both = so.covered[line.i] & sd.covered[line.j]
    parts_i, parts_j, parts_d = [line.i[~both]], [line.j[~both]], [line.d[~both]]
    oi = np.flatnonzero(so.covered)
    if len(oi) and sd.covered.any():
        d = net.distances(origins[oi], dests, limit_m=radius_m)
        r, c = np.nonzero(np.isfinite(d) & (d <= radius_m))
        parts_i.append(oi[r])
        parts_j.append(c)
        parts_d.append(d[r, c])
    return (Pairs(np.concatenate(parts_i).astype(np.intp), np.concatenate(parts_j).astype(np.intp),
                  np.concatenate(parts_d)), so.covered)


def tagged_childrens_centres(path) -> pd.DataFrame:
    """Children's centres mapped in an OSM file (amenity=childrens_centre or
    social_facility=childrens_centre): osm id, name, street, postcode, x, y (BNG), lon, lat
    (a building's mean node position)."""
    import osmium

    rows = []
    for o in osmium.FileProcessor(str(path)).with_locations():
        t = o.tags
        if "childrens_centre" not in (t.get("amenity"), t.get("social_facility")):
            continue
        if o.is_node():
            pts = [(o.location.lon, o.location.lat)]
        elif o.is_way():
            pts = [(n.location.lon, n.location.lat) for n in o.nodes if n.location.valid()]
        else:
            continue
        if pts:
            lon, lat = np.mean(np.asarray(pts), axis=0)
            x, y = _TO_BNG.transform(lon, lat)
            rows.append({"osm": f"{o.type_str()}{o.id}", "name": t.get("name", ""), "street": t.get("addr:street"),
                         "postcode": t.get("addr:postcode"), "x": x, "y": y, "lon": lon, "lat": lat})
    return pd.DataFrame(rows, columns=["osm", "name", "street", "postcode", "x", "y", "lon", "lat"])


class WalkingCost:
    """An access.py cost: walking metres along the network where it covers an LSOA (and the
    service), the straight line elsewhere. `basis` says which, per origin."""

    name = "walk"

    def __init__(self, net: Network):
        self.net = net

    def pairs(self, origins, dests, radius_m):
        return walking_pairs(self.net, origins, dests, radius_m)[0]

    def _nearest(self, origins, dests):
        from .access import nearest_km

        origins = np.asarray(origins, float).reshape(-1, 2)
        dests = np.asarray(dests, float).reshape(-1, 2)
        line = nearest_km(origins, dests)
        walk_m, which = self.net.nearest(origins, dests)
        ok = np.isfinite(walk_m) & (which >= 0)
        sd = self.net.snap(dests)
        if (~sd.covered).any() and ok.any():
            # a service off the network, nearer as the crow flies than the walk found: unknown, keep the line
            dmin, _ = cKDTree(dests[~sd.covered]).query(origins[ok], k=1)
            ok[np.flatnonzero(ok)] = dmin >= walk_m[ok]
        return np.where(ok, walk_m / 1000.0, line), ok

    def nearest_km(self, origins, dests):
        return self._nearest(origins, dests)[0]

    def basis(self, origins, dests):
        """"walk" where nearest_km is a walk, else "straight line" (the pairs within a radius
        follow paths wherever both ends are covered)."""
        return np.where(self._nearest(origins, dests)[1], "walk", "straight line").astype(object)

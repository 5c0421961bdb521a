"""Whether the derived data is up to date: the build's manifest (data/build/manifest.json).

Kept apart from build.py, which needs geopandas, shapely and pyproj: every app process asks
`needs_build()` on its first page, and this module needs none of them.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from . import config
from .sources import Catalogue, catalogue, file_digest, find_files, list_files

#: Bump when the build's outputs change shape, so old builds are redone.
BUILD_VERSION = 6

#: Sources built by their own step with its own manifest (osm: directory/walking.py), so that
#: adding an extract does not redo the main build.
SEPARATE_BUILDS = {"osm"}


def build_inputs(cat: Catalogue, raw: Path) -> list[Path]:
    every = list_files(raw)  # one walk of the folder for all sources: this runs on every page load
    return sorted({p for s in cat.sources.values() if s.key not in SEPARATE_BUILDS for p in find_files(s, raw, every)})


def input_records(cat: Catalogue, raw: Path) -> dict[str, dict]:
    """Size, date and SHA-256 of every input file, as the manifest records them."""
    records = {}
    for p in build_inputs(cat, raw):
        st = p.stat()
        records[str(p)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": file_digest(p)}
    return records


def needs_build(raw: Path | None = None, out: Path | None = None) -> bool:
    """True when the outputs are missing or any input file changed since the last build."""
    raw, out = config.raw_dir(raw), config.build_dir(out)
    manifest = out / "manifest.json"
    if not manifest.exists():
        return True
    old = json.loads(manifest.read_text())
    if old.get("version") != BUILD_VERSION or any(not (out / f).exists() for f in old.get("outputs", [])):
        return True
    current = {str(p): p for p in build_inputs(catalogue(), raw)}
    if set(current) != set(old["inputs"]):
        return True
    restamped = False
    for name, path in current.items():
        rec = old["inputs"][name]
        st = path.stat()
        if (st.st_size, st.st_mtime_ns) != (rec["size"], rec["mtime_ns"]):
            if file_digest(path) != rec["sha256"]:
                return True
            rec["size"], rec["mtime_ns"] = st.st_size, st.st_mtime_ns
            restamped = True
    if restamped:  # same bytes, new dates (a copied folder): remember them, so the next check hashes nothing
        write_manifest(manifest, old)
    return False


def write_manifest(path: Path, manifest: dict) -> None:
    """Replace the manifest in one step (several app processes may check at once); a read-only build
    folder only means the next check hashes again."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)

"""A local HTTP server (127.0.0.1 only) that behaves like the publishers' endpoints, for the download tests.

Routes are registered per path:
- `file(path, body)`: bytes with Content-Length and HTTP Range (206) support; `cut_once=N` closes the
  connection after N bytes the first time (an interrupted transfer);
- `redirect(path, to)`: 302;
- `json(path, fn)`: fn(query) -> object, sent as JSON; `custom(path, fn)`: fn(site, handler, query);
- `status(path, code)`, `slow(path, seconds)`;
- `featureserver(base, rows, geometries, max_records)`: an ArcGIS layer: `base?f=json` describes it,
  `base/query?...returnCountOnly=true` counts, else pages of at most maxRecordCount features, with
  `exceededTransferLimit` while more remain (f=json: attributes [+ x/y geometry]; f=geojson: features).
Every request is recorded in `site.requests` (path, headers).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field


class RawJSON(str):
    """JSON text sent as it is."""


@dataclass
class Layer:
    rows: list[dict]
    geometries: list | None = None  # f=json: {"x":..,"y":..}; f=geojson: GeoJSON geometry text
    max_records: int = 1000
    fail_page_once: int | None = None  # this page's first request answers HTTP 500
    fields: list[str] = field(default_factory=list)


class Site:
    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                site.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- registering
    def file(self, path, body: bytes, content_type="application/octet-stream", cut_once: int | None = None):
        self.routes[path] = ("file", body, content_type, [cut_once])

    def redirect(self, path, to):
        self.routes[path] = ("redirect", to)

    def json(self, path, fn):
        self.routes[path] = ("json", fn)

    def status(self, path, code):
        self.routes[path] = ("status", code)

    def slow(self, path, seconds):
        self.routes[path] = ("slow", seconds)

    def custom(self, path, fn):
        """fn(site, handler, query) answers the request itself."""
        self.routes[path] = ("custom", fn)

    def featureserver(self, base, layer: Layer):
        self.routes[base] = ("layer", layer)
        self.routes[base + "/query"] = ("query", layer)

    # ---- serving
    def handle(self, h):
        parts = urllib.parse.urlsplit(h.path)
        with self.lock:
            self.requests.append((h.path, dict(h.headers)))
        route = self.routes.get(parts.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
        if route is None:
            return self.send(h, 404, b"Not Found", "text/plain")
        kind = route[0]
        if kind == "file":
            return self.send_file(h, route)
        if kind == "redirect":
            return self.send_redirect(h, route[1])
        if kind == "custom":
            return route[1](self, h, q)
        if kind == "json":
            out = route[1](q)
            body = out if isinstance(out, RawJSON) else json.dumps(out)
            return self.send(h, 200, body.encode(), "application/json")
        if kind == "status":
            return self.send(h, route[1], b"Internal Server Error", "text/plain")
        if kind == "slow":
            time.sleep(route[1])
            return self.send(h, 200, b"late", "text/plain")
        layer: Layer = route[1]
        if kind == "layer":
            fields = [{"name": "FID", "type": "esriFieldTypeOID"}] + [
                {"name": n, "type": "esriFieldTypeString"} for n in layer.fields or list(layer.rows[0])]
            return self.send(h, 200, json.dumps({"maxRecordCount": layer.max_records, "objectIdField": "FID",
                                                 "fields": fields}).encode(), "application/json")
        out = self.query(layer, q)
        body = out if isinstance(out, RawJSON) else json.dumps(out)
        return self.send(h, 200, body.encode(), "application/json")

    def query(self, layer: Layer, q: dict):
        if q.get("returnCountOnly") == "true":
            return {"count": len(layer.rows)}
        offset = int(q.get("resultOffset", 0))
        n = min(int(q.get("resultRecordCount", layer.max_records)), layer.max_records)
        page_no = offset // layer.max_records
        if layer.fail_page_once is not None and page_no == layer.fail_page_once:
            layer.fail_page_once = None
            return {"error": {"code": 500, "message": "Error performing query operation"}}
        idx = range(offset, min(offset + n, len(layer.rows)))
        more = offset + n < len(layer.rows)
        if q.get("f") == "geojson":  # geometries are GeoJSON text already (spliced, not re-encoded)
            feats = ",".join(f'{{"type":"Feature","id":{i + 1},"geometry":{layer.geometries[i]},'
                             f'"properties":{json.dumps({"FID": i + 1, **layer.rows[i]})}}}' for i in idx)
            more_json = ',"properties":{"exceededTransferLimit":true}' if more else ""
            return RawJSON(f'{{"type":"FeatureCollection","features":[{feats}]{more_json}}}')
        feats = []
        for i in idx:
            f = {"attributes": {"FID": i + 1, **layer.rows[i]}}
            if q.get("returnGeometry") == "true" and layer.geometries is not None:
                f["geometry"] = layer.geometries[i]
            feats.append(f)
        out = {"objectIdFieldName": "FID", "features": feats}
        if more:
            out["exceededTransferLimit"] = True
        return out

    def send_redirect(self, h, to):
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def send(self, h, code, body: bytes, ctype):
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def send_file(self, h, route):
        _, body, ctype, cut = route
        start = 0
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(body):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(body)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body) - start))
        h.send_header("Accept-Ranges", "bytes")
        h.end_headers()
        if cut[0] is not None:
            n = cut[0]
            cut[0] = None
            h.wfile.write(body[start:start + n])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)
            return
        h.wfile.write(body[start:])

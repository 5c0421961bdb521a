"""The coordinate transformations every module uses, set up once per process.

British National Grid (EPSG:27700) metres for distances, WGS84 (EPSG:4326) longitude/latitude
for display. Setting up a pyproj Transformer costs about 0.1 s, so the app shares these two
(pyproj Transformers are safe to share between threads since pyproj 3.1).
"""

from pyproj import Transformer

TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)

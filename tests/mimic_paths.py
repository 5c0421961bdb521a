"""Where the real ORUK feed captures are (../shared/data/oruk_feeds/, see its README)."""

from directory import config

FEEDS = config.raw_dir() / "oruk_feeds"
BRISTOL = FEEDS / "bristol_hsds_uk_1_0_services_2024-12.json"
NORTH_LINCS = FEEDS / "north_lincolnshire_hsds_uk_1_0_services_2024-12.json"

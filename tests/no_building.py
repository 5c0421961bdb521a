"""Services without a building, for tests: two real ones from the councils' real HSDS-UK 1.0 lists in
../shared/data/oruk_feeds/, written in our CSV template.

- "FamilyLine" (Family Action), listed by North Lincolnshire with attending type "Phone": its name,
  organisation, website, email, assured date, and the phone number, hours and "free" that its own
  description states. Family Action runs it for families anywhere: service area England.
- "Parent Carer SEND workshops" (South Glos Parent Carers), listed by Bristol with attending type
  "Online": its own fields; its description says the workshops are for parents and carers living in
  South Gloucestershire: service area E06000025.
The type (parenting_programme: our vocabulary has no "helpline") is the test's choice; nothing else is
made up. These rows only ever go into throwaway test databases.
"""

from __future__ import annotations

import json

from directory import text
from tests.mimic_paths import BRISTOL, NORTH_LINCS

FAMILYLINE, SEND = "FamilyLine", "Parent Carer SEND workshops"
SOUTH_GLOS, NORTH_LINCOLNSHIRE = "E06000025", "E06000013"


def _item(path, name: str) -> dict:
    return next(s for s in json.loads(path.read_text(encoding="utf-8")) if s["name"] == name)


def rows() -> list[dict]:
    fl, send = _item(NORTH_LINCS, FAMILYLINE), _item(BRISTOL, SEND)
    out = []
    for item, extra in ((fl, {"service_area": "England", "phone": "0808 802 6666", "schedule": "Mon-Fri, 9am to 9pm",
                              "free": "yes"}),
                        (send, {"service_area": SOUTH_GLOS})):
        out.append({"source_id": item["id"], "name": item["name"], "organization": item["organization"]["name"],
                    "types": "parenting_programme", "description": text.html_to_text(item["description"]),
                    "website": item["url"], "email": item["email"], "last_verified": item["assured_date"]} | extra)
    return out

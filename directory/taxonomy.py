"""Our service types and the life stages families filter by."""

from __future__ import annotations

from dataclasses import dataclass

VOCABULARY = "family-support-map"


@dataclass(frozen=True)
class Term:
    code: str
    label: str
    description: str


TERMS: tuple[Term, ...] = (
    Term("childrens_centre", "Children's centre / family hub",
         "A centre bringing together services for families with young children."),
    Term("stay_and_play", "Stay and play", "Drop-in play sessions for parents and carers with babies and young children."),
    Term("baby_massage", "Baby massage", "Classes teaching parents to massage their baby."),
    Term("parenting_programme", "Parenting programme", "Structured courses for parents, e.g. Incredible Years, Solihull."),
    Term("antenatal", "Antenatal classes and groups", "Preparing for birth and parenthood during pregnancy."),
    Term("infant_feeding", "Infant feeding support", "Breastfeeding and bottle-feeding help, peer supporters, clinics."),
    Term("sleep_support", "Sleep support", "Help with babies' and young children's sleep."),
    Term("health_visiting", "Health visiting clinic", "Baby clinics and health visitor drop-ins."),
    Term("perinatal_peer_support", "Perinatal peer support (e.g. mum-to-mum)",
         "Parents who have been there supporting others in pregnancy and the first year."),
    Term("perinatal_mental_health", "Perinatal mental health service",
         "Specialist mental health care in pregnancy and after birth."),
    Term("parent_infant_relationship", "Specialised parent-infant relationship service",
         "Specialist teams helping parents and babies build a secure relationship."),
    Term("early_education", "Maintained nursery school / early education",
         "Local authority maintained nursery schools and other early education."),
)

BY_CODE = {t.code: t for t in TERMS}
BY_LABEL = {t.label.lower(): t for t in TERMS}


def label(code: str) -> str:
    return BY_CODE[code].label if code in BY_CODE else code


def resolve(text: str) -> Term | None:
    """A term from its code or label, in any case ('stay_and_play', 'Stay and play')."""
    t = text.strip()
    return BY_CODE.get(t) or BY_CODE.get(t.lower().replace(" ", "_")) or BY_LABEL.get(t.lower())


@dataclass(frozen=True)
class Stage:
    code: str
    label: str
    min_months: int | None  # None: pregnancy
    max_months: int | None


STAGES: tuple[Stage, ...] = (
    Stage("pregnancy", "Pregnancy", None, None),
    Stage("baby", "Baby (under 1)", 0, 11),
    Stage("toddler", "Toddler (1 to 2)", 12, 35),
    Stage("preschool", "Pre-school (3 to 4)", 36, 59),
)
STAGE_BY_CODE = {s.code: s for s in STAGES}


def describe_ages(min_months, max_months, pregnancy) -> str:
    """'Pregnancy and 0-12 months', 'Ages 2 to 4 years', 'All ages' (for families to read)."""

    def fmt(m):
        return f"{m} months" if m < 24 else f"{m // 12} years"

    parts = []
    if pregnancy:
        parts.append("Pregnancy")
    lo, hi = (None if v is None or v != v else int(v) for v in (min_months, max_months))
    if lo is not None or hi is not None:
        if lo is not None and hi is not None:
            if hi < 24:
                parts.append(f"{lo} to {hi} months")
            else:
                parts.append(f"{fmt(lo)} to {fmt(hi)}" if lo else f"up to {fmt(hi)}")
        elif lo is not None:
            parts.append(f"from {fmt(lo)}")
        else:
            parts.append(f"up to {fmt(hi)}")
    return " and ".join(parts) if parts else "Not stated: ask the service"


# ---------------------------------------------------------------- other directories' terms

#: Mapping a term to IGNORE says "known, not one of our types": it is not reported as unmapped.
IGNORE = "ignore"
ANY_VOCABULARY = "*"


def term_key(text) -> str:
    return " ".join(str(text or "").replace("\u2019", "'").casefold().split())


class TaxonomyMap:
    """Other directories' taxonomy terms -> our codes, from the steward-editable mapping table.

    Rows are (vocabulary, term, code); vocabulary "*" matches any vocabulary, and
    a row's term matches a feed term's code or its name (case-insensitive).
    Lookup order: this vocabulary's row, any vocabulary's row, then our own codes
    and labels (so our own exports, and feeds using our words, need no rows).
    """

    def __init__(self, rows=()):
        self._rows: dict[tuple[str, str], str] = {}
        for vocabulary, term, code in rows:
            self._rows[(term_key(vocabulary) or ANY_VOCABULARY, term_key(term))] = code

    def __len__(self) -> int:
        return len(self._rows)

    def resolve(self, vocabulary: str | None, term: str | None, name: str | None = None) -> str | None:
        """Our code, IGNORE, or None when nothing maps the term."""
        keys = [term_key(t) for t in (term, name) if term_key(t)]
        for vocab in (term_key(vocabulary), ANY_VOCABULARY):
            for k in keys:
                if vocab and (vocab, k) in self._rows:
                    return self._rows[(vocab, k)]
        for t in (term, name):
            if t and (hit := resolve(str(t))):
                return hit.code
        return None

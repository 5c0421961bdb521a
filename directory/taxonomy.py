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


#: The stages that matter in the perinatal period, in the words families read on the filter and on
#: every entry. Ages in whole months: "1 to 2 years" is from the first to the second birthday,
#: "2 to 4 years" from the second birthday to the fifth (school age).
STAGES: tuple[Stage, ...] = (
    Stage("pregnant", "Pregnant", None, None),
    Stage("under1", "Baby under 1", 0, 11),
    Stage("1to2", "1 to 2 years", 12, 23),
    Stage("2to4", "2 to 4 years", 24, 59),
)
STAGE_BY_CODE = {s.code: s for s in STAGES}
#: Stage codes of links shared before these stages (pregnancy, baby, toddler 12-35 months, pre-school
#: 36-59 months), mapped to the nearest stage now, so old links keep working.
OLD_STAGE_CODES = {"pregnancy": "pregnant", "baby": "under1", "toddler": "1to2", "preschool": "2to4"}

#: Types about pregnancy: they match "Pregnant". Perinatal ones also cover the first year after
#: birth, antenatal ones only pregnancy (when a service states no ages).
PREGNANCY_TYPES = frozenset({"antenatal", "perinatal_peer_support", "perinatal_mental_health"})
PERINATAL_TYPES = frozenset({"perinatal_peer_support", "perinatal_mental_health"})
#: Implied upper age (months) of a service that states no ages: -1 for antenatal-only (no child
#: stage), 11 for perinatal-only (the first year), otherwise every child stage.
NO_AGES_MAX = 10_000


def _months(v) -> int | None:
    """Whole months, or None for a missing value (None, NaN, pandas NA)."""
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def stage_code(code) -> str | None:
    """A current stage code from a current or old one (None when unknown)."""
    code = str(code or "").strip().lower()
    code = OLD_STAGE_CODES.get(code, code)
    return code if code in STAGE_BY_CODE else None


def implied_age_range(min_months, max_months, types) -> tuple[float, float]:
    """(lowest, highest) age in months a service is for; for a service that states no ages, the
    range its types imply (see NO_AGES_MAX). The family filter uses the same rule, vectorised."""
    lo, hi = _months(min_months), _months(max_months)
    ts = set(types or [])
    if lo is None and hi is None and ts:
        if ts <= {"antenatal"}:
            return 0.0, -1.0
        if ts <= PREGNANCY_TYPES:
            return 0.0, 11.0
    return float(lo if lo is not None else 0), float(hi if hi is not None else NO_AGES_MAX)


def stages_of(min_months, max_months, pregnancy, types) -> list[Stage]:
    """The stages a service is for: "Pregnant" when flagged for pregnancy or of a pregnancy type;
    a child stage when its (implied) age range overlaps the stage's."""
    out = []
    lo, hi = implied_age_range(min_months, max_months, types)
    for s in STAGES:
        if s.min_months is None:
            if bool(pregnancy) or bool(set(types or []) & PREGNANCY_TYPES):
                out.append(s)
        elif lo <= s.max_months and hi >= s.min_months:
            out.append(s)
    return out


def who_for(min_months, max_months, pregnancy, types) -> str:
    """The "Who it is for" line: the stages in the filter's words, then the ages the source states."""
    stages = ", ".join(s.label for s in stages_of(min_months, max_months, pregnancy, types))
    stated = describe_ages(min_months, max_months, pregnancy)
    if stated.startswith("Not stated"):
        return f"{stages} (no ages stated: ask the service)" if stages else stated
    return f"{stages} (stated: {stated[0].lower() + stated[1:]})" if stages else stated


def _age(m: int) -> str:
    if m == 0:
        return "birth"
    if m < 24:
        return f"{m} months"
    years, months = divmod(m, 12)
    return f"{years} years" + (f" {months} months" if months else "")


def _age_upto(m: int) -> str:
    """An upper age as families say it: 59 months is "under 5 years", not "4 years"."""
    if m >= 23 and (m + 1) % 12 == 0:
        return f"under {(m + 1) // 12} years"
    return _age(m)


def describe_ages(min_months, max_months, pregnancy) -> str:
    """The ages a source states, for families to read: 'Pregnancy and birth to under 5 years',
    '0 to 11 months', 'from 2 years', 'Not stated: ask the service'."""
    parts = []
    if pregnancy:
        parts.append("Pregnancy")
    lo, hi = _months(min_months), _months(max_months)
    if lo is not None and hi is not None:
        parts.append(f"{lo} to {hi} months" if hi < 24 else f"{_age(lo)} to {_age_upto(hi)}")
    elif lo is not None:
        parts.append(f"from {_age(lo)}")
    elif hi is not None:
        parts.append(f"up to {_age_upto(hi)}")
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

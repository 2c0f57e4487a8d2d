"""The prevention calendar, computed from the rules kept as data in `prevention.json`: pure
functions of a birth date, a sex, a day, the recorded vaccinations and the person's statuses
(no database, no clock, no settings). See docs/prevention.md for the file and these choices.

What a calendar shows (`calendar_for`), decided here once:

- every item whose period is open today, and every item whose period closed less than
  `PAST_VISIBLE` ago (a missed item can still be caught up or marked), whatever its status,
  unless a later occurrence of its series has opened since (the next screening, check-up or
  booster replaces it; a missed dose of an infant series does not: it is still due) or it is
  a flu season (not caught up afterwards);
- the items whose period opens within `UPCOMING_VISIBLE`; for a recurring rule (screenings,
  yearly dental check-ups, adult boosters, influenza) only the next one, so that a recurrence
  shows one future occurrence and not a list;
- nothing else: the full history of a person lives in their profile and documents.

An item is `realise` when a recorded vaccination matches it (`_matched`), else the person's own
status, else `a_planifier`. Keys are "<rule id>@<occurrence id>": "hexavalent@2m",
"dtp-adulte@25", "grippe@2026" (the season starting in the autumn of 2026).
"""

import json
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from carnet.core.french import MONTHS

RULES_FILE = Path(__file__).resolve().parent / "prevention.json"

KINDS = ("vaccination", "depistage", "examen_enfant", "dentaire")
SEXES = ("F", "M")
MATCHINGS = ("in_order", "by_period")

# What the calendar shows around today (see the module docstring and docs/prevention.md).
PAST_VISIBLE = timedelta(days=365)
UPCOMING_VISIBLE = timedelta(days=730)
# Recurrences without an end (adult boosters every 10 years) stop at this age.
MAX_AGE_YEARS = 120

A_PLANIFIER = "a_planifier"
PLANIFIE = "planifie"
REALISE = "realise"
NON_REALISE = "non_realise"
STATUS_LABELS = {
    A_PLANIFIER: "À planifier",
    PLANIFIE: "Planifié",
    REALISE: "Réalisé",
    NON_REALISE: "Non réalisé",
}
# The page's groups, in order.
GROUPS = (
    ("a_faire", "À faire maintenant"),
    ("planifie", "Planifié"),
    ("a_venir", "À venir"),
    ("realise", "Réalisé"),
    ("non_realise", "Non réalisé"),
)
GENERIC_LABEL = "Recommandation de prévention"


class RulesError(ValueError):
    """The rules file is malformed: said at start-up, with the rule at fault."""


# --- Ages -------------------------------------------------------------------------------------

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_MONTH_DAY = re.compile(r"^--(\d\d)-(\d\d)$")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month - 1]


@dataclass(frozen=True, slots=True)
class Age:
    """An age as an ISO 8601 duration since birth: whole months (years × 12) then days. A
    birthday on the 31st (or 29 February) falls on the last day of a shorter month."""

    months: int
    days: int
    # Whole days from birth to this age, at least and at most (month lengths, leap years):
    # cheap bounds that spare computing most dates.
    min_days: int
    max_days: int

    @classmethod
    def of(cls, months: int, days: int = 0) -> "Age":
        years, rest = divmod(months, 12)
        return cls(months, days, years * 365 + rest * 28 + days, years * 366 + rest * 31 + days)

    @classmethod
    def parse(cls, text: str) -> "Age":
        found = _DURATION.match(text) if isinstance(text, str) else None
        if found is None or text == "P":
            raise ValueError(f"durée ISO 8601 attendue (P2M, P11Y6M, P8D), pas {text!r}")
        years, months, weeks, days = (int(g) if g else 0 for g in found.groups())
        return cls.of(years * 12 + months, weeks * 7 + days)

    def after(self, birth: date) -> date:
        """The day this age is reached."""
        day = birth
        if self.months:
            index = birth.month - 1 + self.months
            year, month = birth.year + index // 12, index % 12 + 1
            if year > 9999:
                return date.max
            number = birth.day
            if number > 28:
                number = min(number, _days_in_month(year, month))
            day = date(year, month, number)
        if self.days:
            day += timedelta(days=self.days)
        return day

    def before(self, day: date) -> date:
        """About the birth date that reaches this age on `day` (an estimate, see below)."""
        day -= timedelta(days=self.days)
        index = day.year * 12 + day.month - 1 - self.months
        year, month = index // 12, index % 12 + 1
        return date(year, month, min(day.day, _days_in_month(year, month)))

    def first_born(self, day: date) -> date:
        """The earliest birth date that reaches this age on `day` or later."""
        born = self.before(day)
        while self.after(born) < day:
            born += timedelta(days=1)
        while self.after(born - timedelta(days=1)) >= day:
            born -= timedelta(days=1)
        return born

    def last_born(self, day: date) -> date:
        """The latest birth date that reaches this age on `day` or earlier."""
        born = self.before(day)
        while self.after(born) > day:
            born -= timedelta(days=1)
        while self.after(born + timedelta(days=1)) <= day:
            born += timedelta(days=1)
        return born


# --- The rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Occurrence:
    id: str
    label: str
    start: Age
    end: Age | None  # excluded: the period ends the day before; None: no end
    vaccines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recurrence:
    start_years: int
    every_years: int
    until_years: int | None  # excluded; None: until MAX_AGE_YEARS
    label: str  # "à {age} ans"

    def ages(self) -> range:
        return range(self.start_years, self.until_years or MAX_AGE_YEARS + 1, self.every_years)


@dataclass(frozen=True, slots=True)
class Season:
    start: tuple[int, int]  # (month, day)
    end: tuple[int, int]  # (month, day), of the next year when before the start
    age: Age
    label: str  # "campagne {year}-{next_year}"

    def bounds(self, year: int) -> tuple[date, date]:
        first = date(year, *self.start)
        last_year = year + 1 if self.end < self.start else year
        return first, date(last_year, *self.end)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: str
    label: str
    sex: str | None
    vaccines: tuple[str, ...]
    series: str
    matching: str
    occurrences: tuple[Occurrence, ...]
    recurrence: Recurrence | None
    season: Season | None
    explanation: str
    source: str  # "title (publisher, date)"
    order: int

    @property
    def recurring(self) -> bool:
        return self.recurrence is not None or self.season is not None


@dataclass(frozen=True)
class Rules:
    version: str
    tolerance: timedelta
    kinds: dict[str, str]
    rules: tuple[Rule, ...]
    by_id: dict[str, Rule] = field(repr=False)
    series: dict[str, tuple[Rule, ...]] = field(repr=False)
    vaccine_codes: frozenset[str] = field(repr=False)
    series_codes: dict[str, frozenset[str]] = field(repr=False)


def _fail(where: str, message: str):
    raise RulesError(f"prevention.json, {where} : {message}")


def _text(obj: dict, name: str, where: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"« {name} » doit être un texte non vide")
    return value.strip()


def _age(value, where: str) -> Age:
    try:
        return Age.parse(value)
    except ValueError as exc:
        _fail(where, str(exc))


def _codes(value, where: str, known: set[str] | None) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        _fail(where, "« vaccines » doit être une liste non vide de codes de vaccins")
    if known is not None and set(value) - known:
        _fail(where, f"codes de vaccins inconnus : {sorted(set(value) - known)}")
    return tuple(value)


def _occurrence(raw: dict, where: str, vaccines: tuple[str, ...], known) -> Occurrence:
    if not isinstance(raw, dict):
        _fail(where, "une occurrence doit être un objet")
    occurrence_id = _text(raw, "id", where)
    if not re.fullmatch(r"[a-z0-9]+", occurrence_id):
        _fail(where, f"identifiant d'occurrence invalide {occurrence_id!r} (a-z, 0-9)")
    start = _age(raw.get("from"), f"{where}, {occurrence_id}")
    end = None if raw.get("to") is None else _age(raw.get("to"), f"{where}, {occurrence_id}")
    # Strictly after, whatever the birth date (month lengths, leap years): never an empty period.
    if end is not None and end.min_days <= start.max_days:
        _fail(f"{where}, {occurrence_id}", "la fin (« to ») doit venir après le début (« from »)")
    own = raw.get("vaccines")
    return Occurrence(
        id=occurrence_id,
        label=_text(raw, "label", f"{where}, {occurrence_id}"),
        start=start,
        end=end,
        vaccines=_codes(own, where, known) if own is not None else vaccines,
    )


def _whole_years(age: Age, where: str) -> int:
    if age.days or age.months % 12:
        _fail(where, "une récurrence se compte en années entières (P50Y, P2Y)")
    return age.months // 12


def _recurrence(raw, where: str) -> Recurrence:
    if not isinstance(raw, dict):
        _fail(where, "« recurrence » doit être un objet")
    start = _whole_years(_age(raw.get("from"), where), where)
    every = _whole_years(_age(raw.get("every"), where), where)
    until = raw.get("until")
    until_years = None if until is None else _whole_years(_age(until, where), where)
    if every < 1 or (until_years is not None and until_years <= start):
        _fail(where, "récurrence vide : « every » ≥ 1 an et « until » après « from »")
    label = _text(raw, "label", where)
    if "{age}" not in label:
        _fail(where, "le libellé d'une récurrence contient {age}")
    return Recurrence(start, every, until_years, label)


def _month_day(value, where: str) -> tuple[int, int]:
    found = _MONTH_DAY.match(value) if isinstance(value, str) else None
    if found is None:
        _fail(where, f"jour de l'année attendu sous la forme --MM-JJ, pas {value!r}")
    month, day = int(found[1]), int(found[2])
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(2001, month)):
        _fail(where, f"jour de l'année invalide {value!r}")
    return month, day


def _season(raw, where: str) -> Season:
    if not isinstance(raw, dict):
        _fail(where, "« season » doit être un objet")
    start, end = _month_day(raw.get("from"), where), _month_day(raw.get("to"), where)
    if start == end:
        _fail(where, "une saison ne peut pas commencer et finir le même jour")
    return Season(start, end, _age(raw.get("age"), where), _text(raw, "label", where))


def parse_rules(data: dict, known_vaccines: set[str] | None = None) -> Rules:
    """Validate the whole file; the first fault raises `RulesError` naming its rule."""
    if not isinstance(data, dict):
        _fail("racine", "un objet JSON est attendu")
    version = _text(data, "version", "racine")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
        _fail("racine", "« version » est la date de cette version du fichier (AAAA-MM-JJ)")
    try:
        date.fromisoformat(version)
    except ValueError:
        _fail("racine", f"« version » n'est pas une date valide : {version}")
    tolerance = data.get("vaccination_tolerance_days")
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or not 0 <= tolerance <= 90:
        _fail("racine", "« vaccination_tolerance_days » : un nombre de jours entre 0 et 90")
    kinds = data.get("kinds")
    if not isinstance(kinds, dict) or set(kinds) != set(KINDS):
        _fail("racine", f"« kinds » doit nommer exactement {', '.join(KINDS)}")
    for kind in KINDS:
        _text(kinds, kind, "kinds")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        _fail("racine", "« sources » doit être un objet non vide")
    cited = {}
    for source_id, source in sources.items():
        where = f"source {source_id}"
        if not isinstance(source, dict):
            _fail(where, "une source doit être un objet")
        when = _text(source, "date", where)
        if not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", when):
            _fail(where, f"« date » attendue sous la forme AAAA, AAAA-MM ou AAAA-MM-JJ : {when}")
        title, publisher = _text(source, "title", where), _text(source, "publisher", where)
        cited[source_id] = f"{title} — {publisher}, {_date_fr(when)}"
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        _fail("racine", "« rules » doit être une liste non vide")
    rules, seen = [], set()
    for order, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            _fail(f"règle n° {order + 1}", "une règle doit être un objet")
        rule_id = _text(raw, "id", f"règle n° {order + 1}")
        where = f"règle {rule_id}"
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id) or len(rule_id) > 40:
            _fail(where, "identifiant : a-z, 0-9 et tirets, 40 caractères au plus")
        if rule_id in seen:
            _fail(where, "identifiant déjà utilisé")
        seen.add(rule_id)
        kind = raw.get("kind")
        if kind not in KINDS:
            _fail(where, f"« kind » doit être l'un de {', '.join(KINDS)}")
        sex = raw.get("sex")
        if sex is not None and sex not in SEXES:
            _fail(where, '« sex » : "F", "M" ou null')
        is_vaccination = kind == "vaccination"
        vaccines: tuple[str, ...] = ()
        if is_vaccination:
            vaccines = _codes(raw.get("vaccines"), where, known_vaccines)
        elif "vaccines" in raw or "matching" in raw or "series" in raw:
            _fail(where, "seule une vaccination a « vaccines », « matching » ou « series »")
        matching = raw.get("matching", "in_order")
        if matching not in MATCHINGS:
            _fail(where, f"« matching » doit être l'un de {', '.join(MATCHINGS)}")
        series = raw.get("series", rule_id)
        if not isinstance(series, str) or not series:
            _fail(where, "« series » doit être un texte")
        if not isinstance(raw.get("occurrences", []), list):
            _fail(where, "« occurrences » doit être une liste")
        occurrences = tuple(
            _occurrence(o, where, vaccines, known_vaccines if is_vaccination else None)
            for o in raw.get("occurrences", [])
        )
        recurrence = _recurrence(raw["recurrence"], where) if "recurrence" in raw else None
        season = _season(raw["season"], where) if "season" in raw else None
        if season is not None and (occurrences or recurrence):
            _fail(where, "une règle saisonnière n'a ni « occurrences » ni « recurrence »")
        if not (occurrences or recurrence or season):
            _fail(where, "il faut des « occurrences », une « recurrence » ou une « season »")
        for before, after in zip(occurrences, occurrences[1:], strict=False):
            if after.start.min_days < before.start.max_days:
                _fail(where, f"les occurrences vont dans l'ordre des âges ({after.id})")
        ids = [o.id for o in occurrences]
        if recurrence is not None:
            ids += [str(age) for age in recurrence.ages()]
            if occurrences and recurrence.start_years * 12 < max(
                o.start.months for o in occurrences
            ):
                _fail(where, "la récurrence commence après les occurrences listées")
        if len(ids) != len(set(ids)):
            _fail(where, "deux occurrences ont le même identifiant")
        if len(rule_id) + 1 + max((len(i) for i in ids), default=4) > 80:
            _fail(where, "clé trop longue (80 caractères au plus)")
        source = raw.get("source")
        if source not in cited:
            _fail(where, f"« source » doit être l'une des sources listées, pas {source!r}")
        rules.append(
            Rule(
                id=rule_id,
                kind=kind,
                label=_text(raw, "label", where),
                sex=sex,
                vaccines=vaccines,
                series=series,
                matching=matching,
                occurrences=occurrences,
                recurrence=recurrence,
                season=season,
                explanation=_text(raw, "explanation", where),
                source=cited[source],
                order=order,
            )
        )
    series: dict[str, list[Rule]] = {}
    for rule in rules:
        series.setdefault(rule.series, []).append(rule)
    for name, members in series.items():
        if len({r.matching for r in members}) > 1 or len({r.kind for r in members}) > 1:
            _fail(
                f"série {name}", "les règles d'une série ont le même type et le même « matching »"
            )
    return Rules(
        version=version,
        tolerance=timedelta(days=tolerance),
        kinds=dict(kinds),
        rules=tuple(rules),
        by_id={r.id: r for r in rules},
        series={name: tuple(members) for name, members in series.items()},
        vaccine_codes=frozenset(c for r in rules for c in _rule_codes(r)),
        series_codes={
            name: frozenset(c for r in members for c in _rule_codes(r))
            for name, members in series.items()
        },
    )


def _rule_codes(rule: Rule) -> set[str]:
    return set(rule.vaccines) | {c for o in rule.occurrences for c in o.vaccines}


def _date_fr(iso: str) -> str:
    parts = [int(p) for p in iso.split("-")]
    if len(parts) == 1:
        return str(parts[0])
    if len(parts) == 2:
        return f"{MONTHS[parts[1] - 1]} {parts[0]}"
    return f"{'1er' if parts[2] == 1 else parts[2]} {MONTHS[parts[1] - 1]} {parts[0]}"


def load_rules(path: Path = RULES_FILE) -> Rules:
    """Read and validate the file (once per process: see `RULES`)."""
    from carnet.profile.vaccines import LABELS

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RulesError(f"prevention.json illisible : {exc}") from exc
    return parse_rules(data, known_vaccines=set(LABELS))


# Loaded at import: a malformed file stops the process that imports the agenda (web, worker,
# `carnet check`), and a test, instead of failing on the first calendar shown.
RULES = load_rules()


# --- One person's occurrences -----------------------------------------------------------------


class _Window:
    """One occurrence of a rule for one person."""

    __slots__ = ("rule", "key", "label", "start", "end", "vaccines", "recurring")

    def __init__(self, rule, occurrence_id, label, start, end, vaccines, recurring):
        self.rule = rule
        self.key = f"{rule.id}@{occurrence_id}"
        self.label = label
        self.start = start
        self.end = end  # inclusive; None: no end
        self.vaccines = vaccines
        self.recurring = recurring  # generated by a recurrence or a season


def _applies(rule: Rule, sex: str) -> bool:
    return rule.sex is None or rule.sex == sex


def _windows(
    rule: Rule,
    birth: date,
    until: date,
    *,
    since: date | None = None,
    ending_after: date | None = None,
):
    """The rule's occurrences for this person, in order: those starting on `until` at the
    latest, and, when given, on `since` at the earliest and ending on `ending_after` or later.
    Whole-day bounds of each age (`min_days`, `max_days`) skip most of them without a date."""
    until_days = (until - birth).days
    since_days = (since - birth).days if since is not None else None
    ending_days = (ending_after - birth).days if ending_after is not None else None
    for occurrence in rule.occurrences:
        if occurrence.start.min_days > until_days:
            return  # in order: the next ones start later still
        if since_days is not None and occurrence.start.max_days < since_days:
            continue
        end_age = occurrence.end
        if ending_days is not None and end_age is not None and end_age.max_days <= ending_days:
            continue
        start = occurrence.start.after(birth)
        if start > until or (since is not None and start < since):
            continue
        end = None if end_age is None else end_age.after(birth) - timedelta(days=1)
        if ending_after is not None and end is not None and end < ending_after:
            continue
        yield _Window(rule, occurrence.id, occurrence.label, start, end, occurrence.vaccines, False)
    recurrence = rule.recurrence
    if recurrence is not None:
        every = recurrence.every_years
        low = recurrence.start_years
        if since_days is not None:
            low = max(low, since_days // 366)
        if ending_days is not None:
            low = max(low, ending_days // 366 - every)
        if low > recurrence.start_years:  # back on the grid of the recurrence
            low = recurrence.start_years + -(-(low - recurrence.start_years) // every) * every
        high = min(until_days // 365 + 1, recurrence.until_years or MAX_AGE_YEARS + 1)
        for age in range(low, high, every):
            start = _add_years(birth, age)
            if start > until:
                return
            if since is not None and start < since:
                continue
            stop = age + every
            if recurrence.until_years is not None:
                stop = min(stop, recurrence.until_years)
            end = _add_years(birth, stop) - timedelta(days=1)
            if ending_after is not None and end < ending_after:
                continue
            yield _Window(
                rule, str(age), recurrence.label.format(age=age), start, end, rule.vaccines, True
            )
    season = rule.season
    if season is not None:
        eligible = season.age.after(birth)
        year = eligible.year - 1
        for bound in (since, ending_after):
            if bound is not None:
                year = max(year, bound.year - 1)
        while True:
            first, last = season.bounds(year)
            if first > until:
                return
            opens = max(first, eligible)
            if (
                eligible <= last
                and opens <= until  # as the occurrences: a period opening later is not yet
                and (since is None or opens >= since)
                and (ending_after is None or last >= ending_after)
            ):
                yield _Window(
                    rule,
                    str(year),
                    season.label.format(year=year, next_year=year + 1),
                    opens,
                    last,
                    rule.vaccines,
                    True,
                )
            year += 1


def _add_years(birth: date, years: int) -> date:
    year = birth.year + years
    if year > 9999:
        return date.max
    if birth.month == 2 and birth.day == 29 and _days_in_month(year, 2) == 28:
        return date(year, 2, 28)
    return birth.replace(year=year)


# --- Recorded vaccinations ------------------------------------------------------------------


def _matched(
    windows: list[_Window], matching: str, doses: list[tuple[date, str]], tolerance: timedelta
) -> dict[str, date]:
    """key → date of the recorded dose that satisfies it, for the windows of one series.

    A dose counts from `tolerance` before a period opens. "in_order" (infant series, HPV):
    each occurrence, in order, takes the earliest dose not yet taken, so a late dose still
    counts for the first one missing. "by_period" (boosters at fixed ages, influenza): a dose
    counts only for the occurrence whose period runs until the next one opens, so a booster at
    50 is the one of 45, not a late one of 25, and a second flu shot is not last year's."""
    if not doses:
        return {}
    found: dict[str, date] = {}
    taken = [False] * len(doses)
    dates = [d for d, _ in doses]
    starts = sorted({w.start for w in windows})
    for window in windows:
        opens = window.start - tolerance
        closes = None
        if matching == "by_period":
            later = bisect_left(starts, window.start + timedelta(days=1))
            closes = starts[later] - tolerance if later < len(starts) else None
        for i in range(bisect_left(dates, opens), len(doses)):
            when, code = doses[i]
            if closes is not None and when >= closes:
                break
            if not taken[i] and code in window.vaccines:
                taken[i] = True
                found[window.key] = when
                break
    return found


# --- Items ----------------------------------------------------------------------------------


@dataclass(slots=True)  # not frozen: built by the hundred per sweep batch, frozen is slower
class Item:
    key: str
    rule: str
    label: str  # "<rule label> — <occurrence label>"
    kind: str
    window_from: date
    window_to: date | None  # inclusive; None: no end ("à partir de …")
    status: str
    status_label: str
    done_on: date | None
    planned_on: date | None
    explanation: str
    source: str
    satisfied_by_vaccination: bool
    group: str  # one of GROUPS, for this day
    overdue: bool  # still to do, its period closed
    vaccine: str = ""  # the code "Ajouter aussi à mes vaccinations" records
    notified_at: datetime | None = None

    @property
    def kind_label(self) -> str:
        return RULES.kinds[self.kind]

    @property
    def rule_label(self) -> str:
        return RULES.by_id[self.rule].label if self.rule in RULES.by_id else GENERIC_LABEL

    @property
    def occurrence_label(self) -> str:
        return self.label.partition(" — ")[2]


def _group(status: str, start: date, today: date) -> str:
    if status == A_PLANIFIER:
        return "a_faire" if start <= today else "a_venir"
    return status


def _item(window: _Window, today, done_by_dose, statuses, notices) -> Item:
    key = window.key
    status, planned_on, done_on = A_PLANIFIER, None, None
    own = statuses.get(key) if statuses else None
    if own is not None:
        status, planned_on, done_on = own
    dose = done_by_dose.get(key)
    if dose is not None:
        status, done_on = REALISE, dose
    rule = window.rule
    return Item(
        key=key,
        rule=rule.id,
        label=f"{rule.label} — {window.label}",
        kind=rule.kind,
        window_from=window.start,
        window_to=window.end,
        status=status,
        status_label=STATUS_LABELS[status],
        done_on=done_on if status == REALISE else None,
        planned_on=planned_on if status == PLANIFIE else None,
        explanation=rule.explanation,
        source=rule.source,
        satisfied_by_vaccination=dose is not None,
        group=_group(status, window.start, today),
        overdue=status == A_PLANIFIER and window.end is not None and window.end < today,
        vaccine=window.vaccines[0] if window.vaccines else "",
        notified_at=notices.get(key) if notices else None,
    )


def _doses(vaccinations, codes: frozenset[str]) -> list[tuple[date, str]]:
    return sorted((when, code) for code, when in vaccinations if code in codes)


def _visible(windows: list[_Window], today: date) -> list[_Window]:
    """The windows of one series (sorted by start) worth showing today."""
    oldest, furthest = today - PAST_VISIBLE, today + UPCOMING_VISIBLE
    latest_opened = max((w.start for w in windows if w.start <= today), default=None)
    shown, future_recurring = [], set()
    for w in windows:
        if w.end is not None and w.end < today:
            if w.end < oldest or w.rule.season is not None:
                continue  # long closed; or a season, which is not caught up afterwards
            catch_up = w.rule.kind == "vaccination" and w.rule.matching == "in_order"
            if not catch_up and w.start < latest_opened:
                continue  # superseded: the next screening, check-up or booster is open
        if w.start > today:
            if w.start > furthest or (w.recurring and w.rule.id in future_recurring):
                continue
            if w.recurring:
                future_recurring.add(w.rule.id)
        shown.append(w)
    return shown


def _person_windows(birth: date, sex: str, today: date, doses, rules: Rules):
    """The windows of every rule that applies, grouped by series (in the file's order): all of
    them for a series whose recorded doses count in order (a dose of long ago takes the first
    occurrence), else only those ending after the oldest day shown."""
    by_series: dict[str, list[_Window]] = {}
    until, oldest = today + UPCOMING_VISIBLE, today - PAST_VISIBLE
    recorded = {code for _, code in doses}
    for rule in rules.rules:
        if _applies(rule, sex):
            in_order = (
                rule.matching == "in_order"
                and rule.kind == "vaccination"
                and not recorded.isdisjoint(rules.series_codes[rule.series])
            )
            by_series.setdefault(rule.series, []).extend(
                _windows(rule, birth, until, ending_after=None if in_order else oldest)
            )
    return by_series


def calendar_for(
    birth_date: date,
    sex: str,
    today: date,
    vaccinations=(),
    statuses: dict | None = None,
    notices: dict | None = None,
    *,
    rules: Rules | None = None,
) -> list[Item]:
    """The person's calendar as of `today`: the items worth showing (see the module
    docstring), ordered by the day their period opens, then as in the file.

    `vaccinations`: (code, date) of the profile's vaccinations; `statuses`: key → (status,
    planned_on, done_on) of the person's PreventionStatus rows; `notices`: key → when its
    reminder was sent."""
    rules = rules or RULES
    doses = _doses(vaccinations, rules.vaccine_codes)
    by_series = _person_windows(birth_date, sex, today, doses, rules)
    items = []
    for windows in by_series.values():
        if not windows:
            continue
        windows.sort(key=lambda w: w.start)
        first = windows[0].rule
        done = _matched(windows, first.matching, doses, rules.tolerance) if doses else {}
        items.extend(_item(w, today, done, statuses, notices) for w in _visible(windows, today))
    items.sort(key=lambda i: (i.window_from, rules.by_id[i.rule].order))
    return items


def item_for(
    key: str,
    birth_date: date,
    sex: str,
    today: date,
    vaccinations=(),
    statuses: dict | None = None,
    notices: dict | None = None,
    *,
    rules: Rules | None = None,
) -> Item | None:
    """The item of `key` for this person, shown today or long past; None when the key names
    no occurrence of theirs (unknown rule or occurrence, other sex, not yet eligible) or one
    opening beyond what the calendar shows ahead (`UPCOMING_VISIBLE`)."""
    rules = rules or RULES
    rule_id, _, occurrence_id = key.partition("@")
    rule = rules.by_id.get(rule_id)
    if rule is None or not occurrence_id or not _applies(rule, sex):
        return None
    horizon = _horizon_for(rule, occurrence_id, birth_date)
    if horizon is None or horizon > today + UPCOMING_VISIBLE:
        return None
    windows = []
    for member in rules.series[rule.series]:
        if _applies(member, sex):
            windows.extend(_windows(member, birth_date, today + UPCOMING_VISIBLE))
    windows.sort(key=lambda w: w.start)
    done = _matched(
        windows, rule.matching, _doses(vaccinations, rules.vaccine_codes), rules.tolerance
    )
    for window in windows:
        if window.key == key and window.start <= today + UPCOMING_VISIBLE:
            return _item(window, today, done, statuses, notices)
    return None


# An age or a season's year in a key: ASCII digits only ("²" is a digit to str.isdigit()).
_YEARS = re.compile(r"[0-9]{1,4}")


def _horizon_for(rule: Rule, occurrence_id: str, birth: date) -> date | None:
    """The day this occurrence opens at the earliest (None: not one of the rule's)."""
    for occurrence in rule.occurrences:
        if occurrence.id == occurrence_id:
            return occurrence.start.after(birth)
    if not _YEARS.fullmatch(occurrence_id):
        return None
    number = int(occurrence_id)
    if rule.recurrence is not None and number in rule.recurrence.ages():
        return _add_years(birth, number)
    if rule.season is not None and 1 <= number <= 9998:
        return rule.season.bounds(number)[0]  # the period opens then, or later
    return None


def item_label(item_key: str) -> str:
    """What an item is called, from its key alone ("Vaccin … — 1re dose à 2 mois"), for the
    iCalendar feed; a key the rules no longer know is a generic "Recommandation de prévention"."""
    rule_id, _, occurrence_id = item_key.partition("@")
    rule = RULES.by_id.get(rule_id)
    if rule is None:
        return GENERIC_LABEL
    for occurrence in rule.occurrences:
        if occurrence.id == occurrence_id:
            return f"{rule.label} — {occurrence.label}"
    if _YEARS.fullmatch(occurrence_id):
        number = int(occurrence_id)
        if rule.recurrence is not None and number in rule.recurrence.ages():
            return f"{rule.label} — {rule.recurrence.label.format(age=number)}"
        if rule.season is not None:
            return f"{rule.label} — {rule.season.label.format(year=number, next_year=number + 1)}"
    return rule.label


def groups(items: list[Item]) -> list[tuple[str, str, list[Item]]]:
    """(group id, French title, items) of the page, in order, the empty ones left out."""
    by_group: dict[str, list[Item]] = {name: [] for name, _ in GROUPS}
    for item in items:
        by_group[item.group].append(item)
    return [(name, title, by_group[name]) for name, title in GROUPS if by_group[name]]


# --- The daily sweep ------------------------------------------------------------------------


def due_items(
    birth_date: date,
    sex: str,
    today: date,
    vaccinations=(),
    statuses: dict | None = None,
    *,
    grace: timedelta,
    excluded_kinds=(),
    notified=(),
    rules: Rules | None = None,
) -> list[Item]:
    """The items to remind this person of today: their period opens today or tomorrow, or
    opened at most `grace` ago (a sweep that ran late) and is still open; still "à planifier"
    (no status, no matching vaccination); of a kind not in `excluded_kinds`; not in
    `notified` (keys already reminded)."""
    rules = rules or RULES
    first, last = today - grace, today + timedelta(days=1)
    doses = None
    due = []
    for rule in rules.rules:
        if rule.kind in excluded_kinds or not _applies(rule, sex):
            continue
        for window in _windows(rule, birth_date, last, since=first, ending_after=today):
            key = window.key
            if key in notified or (statuses and key in statuses):
                continue
            done: dict[str, date] = {}
            if rule.kind == "vaccination":
                if doses is None:
                    doses = _doses(vaccinations, rules.vaccine_codes)
                if doses:
                    series = sorted(
                        (
                            w
                            for member in rules.series[rule.series]
                            if _applies(member, sex)
                            for w in _windows(member, birth_date, last)
                        ),
                        key=lambda w: w.start,
                    )
                    done = _matched(series, rule.matching, doses, rules.tolerance)
            if key not in done:
                due.append(_item(window, today, done, statuses, None))
    return due


def birth_date_ranges(
    first: date, last: date, *, rules: Rules | None = None
) -> list[tuple[date | None, date]]:
    """The birth dates of the persons with an occurrence opening between `first` and `last`
    (inclusive), as merged intervals (None: no lower bound): what the sweep reads, instead of
    every person. A superset: `due_items` decides for each person read."""
    rules = rules or RULES
    ages: set[Age] = set()
    unbounded_high: list[date] = []
    for rule in rules.rules:
        ages.update(o.start for o in rule.occurrences)
        if rule.recurrence is not None:
            ages.update(Age.of(years * 12) for years in rule.recurrence.ages())
        season = rule.season
        if season is not None:
            ages.add(season.age)  # eligible during a season: the period opens that day
            for year in range(first.year - 1, last.year + 1):
                opens, _ = season.bounds(year)
                if first <= opens <= last:
                    # Everyone eligible by then: born at the latest `age` before that day.
                    unbounded_high.append(season.age.last_born(opens))
    intervals = []
    for age in ages:
        low, high = age.first_born(first), age.last_born(last)
        if low <= high:
            intervals.append((low, high))
    intervals.sort()
    merged: list[tuple[date | None, date]] = []
    if unbounded_high:
        merged.append((None, max(unbounded_high)))
    for low, high in intervals:
        if merged and low <= merged[-1][1] + timedelta(days=1):
            previous_low, previous_high = merged[-1]
            merged[-1] = (previous_low, max(previous_high, high))
        else:
            merged.append((low, high))
    return merged

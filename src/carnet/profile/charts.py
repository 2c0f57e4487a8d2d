"""Measurements shown, not just listed: one panel per measurement type.

Each panel carries the latest value, an accessible data table and, from two values on, a
chart rendered on the server as an SVG string (no JavaScript, no inline style: the strict CSP
allows SVG presentation attributes only). Every piece of text goes through `format_html`,
which escapes it, before the parts are joined: comments are user text.
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from carnet.core.french import MONTHS

from . import measures
from .selectors import measurement_series

SHORT_MONTHS = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
]  # fmt: skip

# "Évolution du poids", "de la taille"…: the French article of each type.
OF_TYPE = {
    "poids": "du poids",
    "taille": "de la taille",
    "imc": "de l'indice de masse corporelle",
    "tour_taille": "du tour de taille",
    "perimetre_cranien": "du périmètre crânien",
    "temperature": "de la température",
    "tension": "de la tension artérielle",
    "frequence_cardiaque": "de la fréquence cardiaque",
    "glycemie": "de la glycémie",
    "hba1c": "de l'hémoglobine glyquée (HbA1c)",
    "douleur": "de la douleur",
    "pas": "du nombre de pas par jour",
}
GROWTH_TYPES = ("taille", "poids", "perimetre_cranien")
ADULT_AGE = 18

# Geometry, in viewBox units: about one CSS pixel each on a 390 px wide phone.
WIDTH, HEIGHT = 400, 240
TOP, RIGHT = 30, 18
BOTTOM, BOTTOM_LEGEND = 48, 68
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
TEXT, MUTED, AXIS, GRID = "#161616", "#4a4a4a", "#6a6a6a", "#dcdce4"


@dataclass(frozen=True)
class Style:
    """One curve: colour (AA on white) plus a marker and a dash, so colour is not the only cue."""

    name: str
    colour: str
    marker: str  # "circle" or "square"
    dash: str = ""


PRIMARY = Style("Valeur", "#000091", "circle")  # 14.9:1 on white
SYSTOLIC = Style("Systolique", "#000091", "circle")
DIASTOLIC = Style("Diastolique", "#a63c00", "square", "6 4")  # 6.4:1 on white


@dataclass
class Row:
    when: str  # "4 mai 2025 à 08:30"
    iso: str  # for <time datetime>
    values: list[str]
    comment: str


@dataclass
class Panel:
    key: str
    label: str
    unit: str
    latest_value: str  # "72,5 kg"
    latest_date: str  # "4 mai 2025 à 08:30"
    latest_iso: str
    columns: list[str]  # value column headers, after "Date"
    rows: list[Row]  # newest first
    has_comments: bool
    caption: str
    chart: SafeString | None = None
    chart_caption: str = ""
    count: int = 0
    extra: dict = field(default_factory=dict)


# --- Formatting --------------------------------------------------------------------------


def number(value) -> str:
    """French number: decimal comma, thin no-break space between thousands, no trailing zeros."""
    d = Decimal(str(value))
    if d == d.to_integral_value():
        d = d.quantize(Decimal(1))
    else:
        d = d.normalize()
    text = f"{d:,f}".replace(",", "\u202f").replace(".", ",")
    return text


def with_unit(text: str, unit: str) -> str:
    if not unit:
        return text
    if unit.startswith("/"):
        return f"{text}{unit}"  # douleur: "7/10"
    return f"{text}\u00a0{unit}"


def measurement_text(m, unit: str) -> str:
    text = number(m.value)
    if m.value2 is not None:
        text = f"{text}/{number(m.value2)}"
    return with_unit(text, unit)


def local(moment: datetime) -> datetime:
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def long_date(moment) -> str:
    d = local(moment) if isinstance(moment, datetime) else moment
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day} {MONTHS[d.month - 1]} {d.year}"


def date_time(moment: datetime) -> str:
    d = local(moment)
    return f"{long_date(d)} à {d:%H:%M}"


def short_date(moment: datetime, with_time: bool = False) -> str:
    d = local(moment)
    if with_time:
        return f"{d.day} {SHORT_MONTHS[d.month - 1]} {d:%H:%M}"
    return f"{d.day} {SHORT_MONTHS[d.month - 1]} {d.year}"


def months_between(birth: date, day: date) -> int:
    months = (day.year - birth.year) * 12 + day.month - birth.month
    if day.day < birth.day:
        months -= 1
    return max(months, 0)


def age_text(birth: date, day: date) -> str:
    months = months_between(birth, day)
    if months < 24:
        return f"{months} mois"
    years, rest = divmod(months, 12)
    return f"{years} ans" + (f" et {rest} mois" if rest else "")


# --- Scales ------------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> list[Decimal]:
    """Round tick values (1, 2, 2.5, 5 × 10^k) covering [low, high]."""
    low_d, high_d = Decimal(str(low)), Decimal(str(high))
    if high_d <= low_d:
        pad = max(abs(low_d) / 10, Decimal(1))
        low_d, high_d = low_d - pad, high_d + pad
        if low >= 0 > low_d:
            low_d = Decimal(0)
    raw = (high_d - low_d) / (count - 1)
    exponent = Decimal(10) ** math.floor(math.log10(raw))
    step = next(
        (
            m * exponent
            for m in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))
            if m * exponent >= raw
        ),
        10 * exponent,
    )
    first = (low_d / step).to_integral_value(ROUND_FLOOR) * step
    last = (high_d / step).to_integral_value(ROUND_CEILING) * step
    ticks, tick = [], first
    while tick <= last:
        ticks.append(tick)
        tick += step
    return ticks


@dataclass
class Axis:
    low: float
    high: float
    start: float  # pixel of `low`
    end: float  # pixel of `high`

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return (self.start + self.end) / 2
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


# --- SVG ---------------------------------------------------------------------------------


def _text(x, y, text, *, anchor="middle", size=11, fill=MUTED, weight="normal"):
    return format_html(
        '<text x="{}" y="{}" text-anchor="{}" font-size="{}" fill="{}"{}>{}</text>',
        f"{x:.1f}",
        f"{y:.1f}",
        anchor,
        size,
        fill,
        mark_safe(' font-weight="bold"') if weight == "bold" else "",
        text,
    )


def _marker(style: Style, x: float, y: float, radius: float, tooltip: str) -> SafeString:
    if style.marker == "square":
        side = radius * 1.8
        return format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
            f"{x - side / 2:.1f}",
            f"{y - side / 2:.1f}",
            f"{side:.1f}",
            f"{side:.1f}",
            style.colour,
            tooltip,
        )
    return format_html(
        '<circle cx="{}" cy="{}" r="{}" fill="{}"><title>{}</title></circle>',
        f"{x:.1f}",
        f"{y:.1f}",
        f"{radius:.1f}",
        style.colour,
        tooltip,
    )


def _legend(styles: list[Style], y: float, left: float) -> SafeString:
    parts, x = [], left
    for style in styles:
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/>',
                f"{x:.1f}",
                f"{y - 4:.1f}",
                f"{x + 24:.1f}",
                f"{y - 4:.1f}",
                style.colour,
                format_html(' stroke-dasharray="{}"', style.dash) if style.dash else "",
            )
        )
        parts.append(_marker(style, x + 12, y - 4, 4, style.name))
        parts.append(_text(x + 30, y, style.name, anchor="start", size=12, fill=TEXT))
        x += 30 + 8 * len(style.name) + 18
    return format_html_join("", "{}", ((part,) for part in parts))


@dataclass
class Series:
    style: Style
    points: list[tuple[float, float, str]]  # x value, y value, tooltip


def render_svg(
    *,
    ident: str,
    title: str,
    desc: str,
    y_title: str,
    x_title: str,
    x_ticks: list[tuple[float, str]],
    x_range: tuple[float, float],
    series: list[Series],
) -> SafeString:
    """The chart as an SVG string: title, desc, grid, axes, tick labels, polylines, points."""
    values = [v for s in series for _, v, _ in s.points]
    low, high = min(values), max(values)
    pad = (high - low) * 0.08  # keep the points off the axis
    y_ticks = nice_ticks(max(low - pad, 0) if low >= 0 else low - pad, high + pad)
    y_labels = [number(t) for t in y_ticks]
    left = 14 + 7 * max(len(label) for label in y_labels)
    bottom = HEIGHT - (BOTTOM_LEGEND if len(series) > 1 else BOTTOM)
    x_axis = Axis(x_range[0], x_range[1], left + 8, WIDTH - RIGHT - 8)
    y_axis = Axis(float(y_ticks[0]), float(y_ticks[-1]), bottom, TOP)

    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {} {}" '
            'width="100%" preserveAspectRatio="xMidYMid meet" role="img" '
            'aria-labelledby="{}-titre {}-desc" font-family="{}">',
            WIDTH,
            HEIGHT,
            ident,
            ident,
            FONT,
        ),
        format_html('<title id="{}-titre">{}</title>', ident, title),
        format_html('<desc id="{}-desc">{}</desc>', ident, desc),
        _text(4, 16, y_title, anchor="start", size=12, fill=TEXT, weight="bold"),
    ]
    # Horizontal grid and y tick labels.
    for tick, label in zip(y_ticks, y_labels, strict=True):
        y = y_axis(float(tick))
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1"/>',
                f"{left:.1f}",
                f"{y:.1f}",
                f"{WIDTH - RIGHT:.1f}",
                f"{y:.1f}",
                GRID,
            )
        )
        parts.append(_text(left - 6, y + 4, label, anchor="end", size=12))
    # Axes.
    parts.append(
        format_html(
            '<path d="M{} {}V{}H{}" fill="none" stroke="{}" stroke-width="1"/>',
            f"{left:.1f}",
            f"{TOP - 6:.1f}",
            f"{bottom:.1f}",
            f"{WIDTH - RIGHT:.1f}",
            AXIS,
        )
    )
    # X ticks: the first label starts at its tick, the last ends at it (no clipping).
    for index, (value, label) in enumerate(x_ticks):
        x = x_axis(value)
        anchor = "middle"
        if len(x_ticks) > 1 and index == 0:
            anchor = "start" if x - 3.5 * len(label) < 0 else "middle"
        if len(x_ticks) > 1 and index == len(x_ticks) - 1:
            anchor = "end" if x + 3.5 * len(label) > WIDTH else "middle"
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1"/>',
                f"{x:.1f}",
                f"{bottom:.1f}",
                f"{x:.1f}",
                f"{bottom + 5:.1f}",
                AXIS,
            )
        )
        parts.append(_text(x, bottom + 19, label, anchor=anchor, size=12))
    parts.append(
        _text((left + WIDTH - RIGHT) / 2, bottom + 38, x_title, size=12, fill=TEXT, weight="bold")
    )
    # Curves, then points on top.
    many = max(len(s.points) for s in series) > 40
    for s in series:
        coords = " ".join(f"{x_axis(x):.1f},{y_axis(y):.1f}" for x, y, _ in s.points)
        parts.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2" '
                'stroke-linejoin="round"{}/>',
                coords,
                s.style.colour,
                format_html(' stroke-dasharray="{}"', s.style.dash) if s.style.dash else "",
            )
        )
    for s in series:
        for x, y, tooltip in s.points:
            parts.append(_marker(s.style, x_axis(x), y_axis(y), 2.5 if many else 4, tooltip))
    if len(series) > 1:
        parts.append(_legend([s.style for s in series], HEIGHT - 6, left))
    parts.append(mark_safe("</svg>"))
    # Every part is a SafeString built by format_html (its text escaped): joined as is.
    return format_html_join("", "{}", ((part,) for part in parts))


def _date_ticks(first: datetime, last: datetime) -> tuple[list[tuple[float, str]], tuple]:
    start, end = first.timestamp(), last.timestamp()
    if end - start < 2 * 86400:
        labels = {short_date(first, True), short_date(last, True)}
        ticks = [(start, short_date(first, True))]
        if len(labels) > 1:
            ticks.append((end, short_date(last, True)))
        if end == start:
            return ticks, (start - 3600, end + 3600)
        return ticks, (start, end)
    count = 3  # first, middle, last: room for "17 sept. 2025" on a phone
    ticks = []
    for i in range(count):
        value = start + (end - start) * i / (count - 1)
        ticks.append((value, short_date(datetime.fromtimestamp(value, tz=first.tzinfo))))
    return ticks, (start, end)


def _age_ticks(low: float, high: float, in_months: bool) -> tuple[list[tuple[float, str]], tuple]:
    if in_months:  # every 1, 2, 3, 6 or 12 months
        step = next((s for s in (1, 2, 3, 6) if (high - low) / s <= 6), 12)
        first, last = math.floor(low / step) * step, math.ceil(high / step) * step
        if first == last:
            last = first + step
        ticks = [Decimal(t) for t in range(first, last + 1, step)]
    else:
        ticks = nice_ticks(low, high, 5)
        if len(ticks) > 7:
            ticks = ticks[::2]
    return [(float(t), number(t)) for t in ticks], (float(ticks[0]), float(ticks[-1]))


def _chart(key: str, kind: measures.MeasureType, points: list, birth: date | None) -> SafeString:
    of_type = OF_TYPE.get(key, kind.label.lower())
    first, last = points[0], points[-1]
    growth = birth is not None
    desc = (
        f"Évolution {of_type}{' selon l’âge' if growth else ''}, "
        f"de {measurement_text(first, kind.unit)} le {long_date(first.taken_at)}"
        f"{f' ({age_text(birth, local(first.taken_at).date())})' if growth else ''}"
        f" à {measurement_text(last, kind.unit)} le {long_date(last.taken_at)}"
        f"{f' ({age_text(birth, local(last.taken_at).date())})' if growth else ''}"
        f" ; {len(points)} mesures."
    )
    if kind.two_values:
        styles = [(SYSTOLIC, "value"), (DIASTOLIC, "value2")]
    else:
        styles = [(PRIMARY, "value")]

    if growth:
        in_months = months_between(birth, local(last.taken_at).date()) < 24
        per = 30.4375 if in_months else 365.25

        def x_of(m):
            return max((local(m.taken_at).date() - birth).days, 0) / per

        xs = [x_of(m) for m in points]
        x_ticks, x_range = _age_ticks(min(xs), max(xs), in_months)
        x_title = "Âge (mois)" if in_months else "Âge (années)"
    else:

        def x_of(m):
            return m.taken_at.timestamp()

        x_ticks, x_range = _date_ticks(local(first.taken_at), local(last.taken_at))
        x_title = "Date de la mesure"

    series = []
    for style, attr in styles:
        curve = []
        for m in points:
            value = getattr(m, attr)
            if value is None:
                continue
            tooltip = f"{date_time(m.taken_at)} : {with_unit(number(value), kind.unit)}"
            if style is not PRIMARY:
                tooltip = f"{style.name} — {tooltip}"
            if m.comment:
                tooltip += f" — {m.comment}"
            curve.append((x_of(m), float(value), tooltip))
        if curve:
            series.append(Series(style, curve))
    name = kind.label if len(kind.label) <= 24 else "Valeur"
    return render_svg(
        ident=f"graphique-{key}",
        title=f"Évolution {of_type}",
        desc=desc,
        y_title=f"{name} ({kind.unit})",
        x_title=x_title,
        x_ticks=x_ticks,
        x_range=x_range,
        series=series,
    )


def _birth_date(space) -> date | None:
    person = getattr(space, "person", None)
    return getattr(person, "birth_date", None)


def is_child_at(birth: date | None, moment: datetime) -> bool:
    if birth is None:
        return False
    day = local(moment).date()
    try:
        adult = birth.replace(year=birth.year + ADULT_AGE)
    except ValueError:  # born on 29 February
        adult = birth.replace(year=birth.year + ADULT_AGE, day=28) + timedelta(days=1)
    return day < adult


def panel_for(key: str, kind: measures.MeasureType, points: list, birth: date | None) -> Panel:
    """The panel of one type; `points` oldest first, at least one."""
    latest = points[-1]
    if kind.two_values:
        columns = [f"Systolique ({kind.unit})", f"Diastolique ({kind.unit})"]
    else:
        columns = [f"Valeur ({kind.unit})"]
    rows = []
    for m in reversed(points):
        values = [number(m.value)]
        if kind.two_values:
            values.append(number(m.value2) if m.value2 is not None else "—")
        rows.append(Row(date_time(m.taken_at), local(m.taken_at).isoformat(), values, m.comment))
    growth = key in GROWTH_TYPES and is_child_at(birth, latest.taken_at)
    panel = Panel(
        key=key,
        label=kind.label,
        unit=kind.unit,
        latest_value=measurement_text(latest, kind.unit),
        latest_date=date_time(latest.taken_at),
        latest_iso=local(latest.taken_at).isoformat(),
        columns=columns,
        rows=rows,
        has_comments=any(m.comment for m in points),
        caption=f"{kind.label} : toutes les mesures, de la plus récente à la plus ancienne",
        count=len(points),
    )
    if len(points) >= 2:
        panel.chart = _chart(key, kind, points, birth if growth else None)
        of_type = OF_TYPE.get(key, kind.label.lower())
        panel.chart_caption = (
            f"Évolution {of_type} {'selon l’âge' if growth else 'dans le temps'} "
            f"({kind.unit}). Les valeurs exactes figurent dans le tableau ci-dessous."
        )
    return panel


def measurement_panels(space) -> list[Panel]:
    """One panel per measurement type that has values, in the order of `measures.TYPES`."""
    series = measurement_series(space)
    birth = _birth_date(space)
    return [
        panel_for(key, kind, series[key], birth)
        for key, kind in measures.TYPES.items()
        if series.get(key)
    ]

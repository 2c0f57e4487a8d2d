"""The prevention calendar as a pure function of a birth date, a sex and a day.

The tables below are written from the official rules, not from the code: the French
vaccination calendar 2025 (DTCaP-Hib-HepB and pneumococcus at 2, 4 and 11 months; meningococcus
B at 3, 5 and 12 months; ACWY at 6 and 12 months; MMR at 12 and 16-18 months; DTCaP at 6 years,
dTcaP at 11-13; HPV at 11-14 with catch-up to 19; dTP at 25, 45, 65 then every 10 years;
influenza every autumn and pneumococcus from 65), the organised screenings (breast, women 50-74
every 2 years; colorectal 50-74 every 2 years; cervical, women 25-65: every 3 years to 29, every
5 years from 30), the 20 examinations of R2132-1 and M'T dents every year from 3 to 24.

A period runs from the day the age is reached to the day before its end age; a calendar shows
what is open, what closed less than a year ago (unless a later occurrence has opened, or it is
a flu season), and what opens within two years (for a recurrence, the next one only).
"""

import json
from datetime import date, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from carnet.agenda import prevention
from carnet.agenda.prevention import (
    RULES,
    RulesError,
    birth_date_ranges,
    calendar_for,
    due_items,
    item_for,
    item_label,
    load_rules,
    parse_rules,
)

TODAY = date(2026, 6, 15)
GRACE = timedelta(days=7)
OPEN, COMING = "a_faire", "a_venir"

NEWBORN = (date(2026, 6, 10), "M")  # 5 days old
GIRL_12 = (date(2014, 3, 20), "F")  # 12 years and 3 months
MAN_26 = (date(2000, 1, 10), "M")  # 26 years and 5 months
WOMAN_52 = (date(1974, 3, 2), "F")  # 52 years and 3 months
MAN_66 = (date(1960, 2, 20), "M")  # 66 years and 4 months

# (key, first day, last day or None, group) on TODAY, in calendar order.
EXPECTED = {
    NEWBORN: [
        ("examen-enfant@8j", date(2026, 6, 10), date(2026, 6, 18), OPEN),
        ("examen-enfant@2sem", date(2026, 6, 18), date(2026, 6, 24), COMING),
        ("examen-enfant@1m", date(2026, 6, 25), date(2026, 7, 9), COMING),
        ("hexavalent@2m", date(2026, 8, 10), date(2026, 9, 9), COMING),
        ("pneumocoque-nourrisson@2m", date(2026, 8, 10), date(2026, 9, 9), COMING),
        ("examen-enfant@2m", date(2026, 8, 10), date(2026, 9, 9), COMING),
        ("meningocoque-b@3m", date(2026, 9, 10), date(2026, 10, 9), COMING),
        ("examen-enfant@3m", date(2026, 9, 10), date(2026, 10, 9), COMING),
        ("hexavalent@4m", date(2026, 10, 10), date(2026, 11, 9), COMING),
        ("pneumocoque-nourrisson@4m", date(2026, 10, 10), date(2026, 11, 9), COMING),
        ("examen-enfant@4m", date(2026, 10, 10), date(2026, 11, 9), COMING),
        ("meningocoque-b@5m", date(2026, 11, 10), date(2026, 12, 9), COMING),
        ("examen-enfant@5m", date(2026, 11, 10), date(2026, 12, 9), COMING),
        ("meningocoques-acwy@6m", date(2026, 12, 10), date(2027, 1, 9), COMING),
        ("examen-enfant@6m", date(2026, 12, 10), date(2027, 1, 9), COMING),
        ("examen-enfant@9m", date(2027, 3, 10), date(2027, 4, 9), COMING),
        ("hexavalent@11m", date(2027, 5, 10), date(2027, 6, 9), COMING),
        ("pneumocoque-nourrisson@11m", date(2027, 5, 10), date(2027, 6, 9), COMING),
        ("meningocoque-b@12m", date(2027, 6, 10), date(2027, 7, 9), COMING),
        ("meningocoques-acwy@12m", date(2027, 6, 10), date(2027, 7, 9), COMING),
        ("ror@12m", date(2027, 6, 10), date(2027, 7, 9), COMING),
        ("examen-enfant@12m", date(2027, 6, 10), date(2027, 7, 9), COMING),
        ("examen-enfant@13m", date(2027, 7, 10), date(2027, 8, 9), COMING),
        ("ror@16m", date(2027, 10, 10), date(2028, 1, 9), COMING),
        ("examen-enfant@16m", date(2027, 10, 10), date(2028, 1, 9), COMING),
        ("examen-enfant@24m", date(2028, 6, 10), date(2028, 7, 9), COMING),
    ],
    GIRL_12: [
        ("dtcap-11-13-ans@11a", date(2025, 3, 20), date(2028, 3, 19), OPEN),
        ("hpv@1", date(2025, 3, 20), date(2034, 3, 19), OPEN),
        ("examen-enfant@11a", date(2025, 3, 20), date(2028, 3, 19), OPEN),
        ("hpv@2", date(2025, 9, 20), date(2034, 3, 19), OPEN),
        ("mt-dents@12", date(2026, 3, 20), date(2027, 3, 19), OPEN),
        ("mt-dents@13", date(2027, 3, 20), date(2028, 3, 19), COMING),
    ],
    MAN_26: [
        ("dtp-adulte@25", date(2025, 1, 10), date(2045, 1, 9), OPEN),
    ],
    WOMAN_52: [
        ("dtp-adulte@45", date(2019, 3, 2), date(2039, 3, 1), OPEN),
        ("depistage-col-uterus@50", date(2024, 3, 2), date(2029, 3, 1), OPEN),
        ("depistage-sein@52", date(2026, 3, 2), date(2028, 3, 1), OPEN),
        ("depistage-colorectal@52", date(2026, 3, 2), date(2028, 3, 1), OPEN),
        ("depistage-sein@54", date(2028, 3, 2), date(2030, 3, 1), COMING),
        ("depistage-colorectal@54", date(2028, 3, 2), date(2030, 3, 1), COMING),
    ],
    MAN_66: [
        ("dtp-adulte@65", date(2025, 2, 20), date(2035, 2, 19), OPEN),
        ("pneumocoque-adulte@65", date(2025, 2, 20), None, OPEN),
        ("depistage-colorectal@66", date(2026, 2, 20), date(2028, 2, 19), OPEN),
        ("grippe@2026", date(2026, 10, 15), date(2027, 1, 31), COMING),
        ("depistage-colorectal@68", date(2028, 2, 20), date(2030, 2, 19), COMING),
    ],
}


def table(person, today=TODAY, **kwargs):
    birth, sex = person
    return [
        (i.key, i.window_from, i.window_to, i.group)
        for i in calendar_for(birth, sex, today, **kwargs)
    ]


def keys(person, today=TODAY, **kwargs) -> list[str]:
    return [row[0] for row in table(person, today, **kwargs)]


def item(person, key, today=TODAY, **kwargs):
    birth, sex = person
    return next(i for i in calendar_for(birth, sex, today, **kwargs) if i.key == key)


# --- The five synthetic people --------------------------------------------------------------


@pytest.mark.parametrize("person", list(EXPECTED), ids=["nouveau-ne", "fille-12", "homme-26",
                                                        "femme-52", "homme-66"])  # fmt: skip
def test_the_calendar_is_the_official_one(person):
    assert table(person) == EXPECTED[person]


def test_every_item_says_what_why_and_where_from():
    hexa = item(NEWBORN, "hexavalent@2m")
    assert hexa.label == (
        "Vaccin diphtérie, tétanos, coqueluche, poliomyélite, Haemophilus influenzae b et "
        "hépatite B (DTCaP-Hib-HepB) — 1re dose à 2 mois"
    )
    assert hexa.kind == "vaccination" and hexa.kind_label == "Vaccinations"
    assert hexa.status == "a_planifier" and hexa.status_label == "À planifier"
    assert "2 et 4 mois" in hexa.explanation
    assert hexa.source.startswith("Calendrier des vaccinations et recommandations vaccinales 2025")
    assert hexa.vaccine == "hexavalent"
    sein = item(WOMAN_52, "depistage-sein@52")
    assert "50 à 74 ans" in sein.explanation and "INCa" in sein.source
    assert sein.vaccine == ""
    exam = item(NEWBORN, "examen-enfant@8j")
    assert "R2132-1" in exam.source


def test_the_twenty_mandatory_examinations_from_birth_to_16():
    exams = RULES.by_id["examen-enfant"].occurrences
    assert len(exams) == 20
    assert [o.id for o in exams] == [
        "8j", "2sem", "1m", "2m", "3m", "4m", "5m", "6m", "9m", "12m", "13m", "16m", "24m",
        "3a", "4a", "5a", "6a", "8a", "11a", "15a",
    ]  # fmt: skip
    last = exams[-1]
    birth = date(2010, 1, 1)
    assert last.end.after(birth) - timedelta(days=1) == date(2026, 12, 31)  # up to 16 inclusive


def test_m_t_dents_every_year_from_3_to_24():
    ages = list(RULES.by_id["mt-dents"].recurrence.ages())
    assert ages == list(range(3, 25))


def test_screenings_follow_the_ages_of_the_programmes():
    assert list(RULES.by_id["depistage-sein"].recurrence.ages()) == list(range(50, 75, 2))
    assert list(RULES.by_id["depistage-colorectal"].recurrence.ages()) == list(range(50, 75, 2))
    cervical = RULES.by_id["depistage-col-uterus"]
    assert [o.id for o in cervical.occurrences] == ["25", "28"]
    assert list(cervical.recurrence.ages()) == [30, 35, 40, 45, 50, 55, 60, 65]


def test_no_screening_of_women_for_men():
    for person in (MAN_26, MAN_66):
        assert not [k for k in keys(person) if "sein" in k or "col-uterus" in k]
    assert item_for("depistage-sein@52", date(1974, 3, 2), "M", TODAY) is None


# --- Moving the clock moves the statuses -----------------------------------------------------


def test_an_infant_vaccine_comes_opens_passes_then_leaves():
    def hexa(today):
        found = [i for i in calendar_for(*NEWBORN, today) if i.key == "hexavalent@2m"]
        return (found[0].group, found[0].overdue) if found else None

    assert hexa(date(2026, 8, 9)) == (COMING, False)
    assert hexa(date(2026, 8, 10)) == (OPEN, False)
    assert hexa(date(2026, 9, 9)) == (OPEN, False)
    assert hexa(date(2026, 9, 10)) == (OPEN, True)  # still to catch up, period passed
    assert hexa(date(2027, 9, 9)) == (OPEN, True)
    assert hexa(date(2027, 9, 10)) is None  # closed more than a year ago


def test_a_missed_examination_leaves_when_the_next_one_opens():
    assert "examen-enfant@8j" in keys(NEWBORN, date(2026, 6, 17))
    assert "examen-enfant@8j" not in keys(NEWBORN, date(2026, 6, 19))  # 2e semaine open
    one_month = item(NEWBORN, "examen-enfant@1m", date(2026, 8, 1))
    assert one_month.overdue and one_month.group == OPEN
    assert "examen-enfant@1m" not in keys(NEWBORN, date(2026, 8, 10))  # 2 mois open


def test_the_flu_season_opens_in_autumn_and_is_not_caught_up():
    def flu(today):
        return [(k, g) for k, _, _, g in table(MAN_66, today) if k.startswith("grippe")]

    assert flu(date(2026, 10, 14)) == [("grippe@2026", COMING)]
    assert flu(date(2026, 10, 15)) == [("grippe@2026", OPEN), ("grippe@2027", COMING)]
    assert flu(date(2027, 1, 31)) == [("grippe@2026", OPEN), ("grippe@2027", COMING)]
    assert flu(date(2027, 2, 1)) == [("grippe@2027", COMING)]


def test_eligible_to_the_flu_vaccine_during_the_season_of_the_65th_birthday():
    birth = date(1961, 11, 20)  # 65 on 20 November 2026, during the 2026-2027 campaign
    flu = item((birth, "F"), "grippe@2026", date(2026, 12, 1))
    assert (flu.window_from, flu.window_to) == (date(2026, 11, 20), date(2027, 1, 31))
    assert item_for("grippe@2025", birth, "F", date(2026, 12, 1)) is None


def test_the_next_screening_replaces_the_previous_one():
    assert keys(WOMAN_52, date(2028, 3, 1))[2:4] == ["depistage-sein@52", "depistage-colorectal@52"]
    later = keys(WOMAN_52, date(2028, 3, 2))
    assert "depistage-sein@52" not in later and "depistage-sein@54" in later
    assert "depistage-sein@56" in later  # the next one, now within two years


def test_the_adult_booster_at_45_replaces_the_one_at_25():
    before = [(k, g) for k, _, _, g in table(MAN_26, date(2045, 1, 9))]
    assert before == [("dtp-adulte@25", OPEN), ("dtp-adulte@45", COMING)]
    after = [(k, g) for k, _, _, g in table(MAN_26, date(2045, 1, 10))]
    assert after == [("dtp-adulte@45", OPEN)]


def test_boosters_every_ten_years_after_65():
    birth = date(1940, 4, 1)
    assert "dtp-adulte@85" in keys((birth, "M"), date(2026, 6, 15))
    assert "dtp-adulte@95" in keys((birth, "M"), date(2035, 4, 1))
    assert item_label("dtp-adulte@95") == (
        "Rappel diphtérie, tétanos, poliomyélite de l'adulte (dTP) — à 95 ans"
    )


# --- Statuses and recorded vaccinations --------------------------------------------------------


def test_the_persons_statuses_group_the_items():
    statuses = {
        "depistage-sein@52": ("planifie", date(2026, 7, 1), None),
        "depistage-colorectal@52": ("realise", None, date(2026, 4, 2)),
        "depistage-col-uterus@50": ("non_realise", None, None),
    }
    found = {i.key: i for i in calendar_for(*WOMAN_52, TODAY, statuses=statuses)}
    assert (found["depistage-sein@52"].group, found["depistage-sein@52"].planned_on) == (
        "planifie",
        date(2026, 7, 1),
    )
    assert found["depistage-colorectal@52"].group == "realise"
    assert found["depistage-colorectal@52"].done_on == date(2026, 4, 2)
    assert found["depistage-col-uterus@50"].status_label == "Non réalisé"
    titles = [title for _, title, _ in prevention.groups(list(found.values()))]
    assert titles == ["À faire maintenant", "Planifié", "À venir", "Réalisé", "Non réalisé"]


def test_a_recorded_vaccination_satisfies_its_item():
    doses = [("hexavalent", date(2026, 8, 12)), ("pneumo", date(2026, 8, 12))]
    hexa = item(NEWBORN, "hexavalent@2m", date(2026, 8, 20), vaccinations=doses)
    assert (hexa.status, hexa.done_on, hexa.satisfied_by_vaccination) == (
        "realise",
        date(2026, 8, 12),
        True,
    )
    assert hexa.group == "realise"
    # … whatever the person had said about it.
    statuses = {"hexavalent@2m": ("non_realise", None, None)}
    again = item(NEWBORN, "hexavalent@2m", date(2026, 8, 20), vaccinations=doses, statuses=statuses)
    assert again.status == "realise"
    assert item(NEWBORN, "hexavalent@4m", date(2026, 8, 20), vaccinations=doses).status == (
        "a_planifier"
    )


def test_a_dose_a_little_early_counts_one_long_before_does_not():
    early = [("hexavalent", date(2026, 7, 29))]  # at 7 weeks
    assert item(NEWBORN, "hexavalent@2m", date(2026, 8, 20), vaccinations=early).status == (
        "realise"
    )
    too_early = [("hexavalent", date(2026, 6, 20))]
    assert item(NEWBORN, "hexavalent@2m", date(2026, 8, 20), vaccinations=too_early).status == (
        "a_planifier"
    )


def test_late_infant_doses_count_in_order():
    doses = [("hexavalent", date(2026, 10, 25)), ("hexavalent", date(2026, 12, 28))]
    today = date(2027, 1, 5)
    assert item(NEWBORN, "hexavalent@2m", today, vaccinations=doses).done_on == date(2026, 10, 25)
    assert item(NEWBORN, "hexavalent@4m", today, vaccinations=doses).done_on == date(2026, 12, 28)


def test_a_booster_counts_for_the_age_of_its_period():
    # dTP at 50: the booster of 45, not a late one of 25.
    found = item(WOMAN_52, "dtp-adulte@45", vaccinations=[("dtp", date(2024, 5, 1))])
    assert found.done_on == date(2024, 5, 1)
    # A dTcaP at 12 is the adolescent booster, never the one of 25.
    assert item(MAN_26, "dtp-adulte@25", vaccinations=[("dtcap", date(2012, 5, 1))]).status == (
        "a_planifier"
    )
    assert item(MAN_26, "dtp-adulte@25", vaccinations=[("dtcap", date(2025, 3, 1))]).status == (
        "realise"
    )


def test_a_flu_shot_counts_for_its_season_only():
    doses = [("grippe", date(2026, 10, 20)), ("grippe", date(2026, 11, 10))]
    today = date(2026, 11, 15)
    assert item(MAN_66, "grippe@2026", today, vaccinations=doses).done_on == date(2026, 10, 20)
    assert item(MAN_66, "grippe@2027", today, vaccinations=doses).status == "a_planifier"


def test_other_vaccines_do_not_count():
    doses = [("menc", date(2026, 12, 15)), ("autre", date(2026, 12, 15))]
    acwy = item(NEWBORN, "meningocoques-acwy@6m", date(2026, 12, 20), vaccinations=doses)
    assert acwy.status == "a_planifier"


# --- Keys and labels ---------------------------------------------------------------------------


def test_item_label_from_the_key_alone():
    assert item_label("ror@16m") == (
        "Vaccin rougeole, oreillons, rubéole (ROR) — 2e dose entre 16 et 18 mois"
    )
    assert item_label("grippe@2026") == ("Vaccin contre la grippe saisonnière — campagne 2026-2027")
    assert item_label("mt-dents@7") == "Examen bucco-dentaire de prévention M'T dents — à 7 ans"
    assert item_label("regle-disparue@3") == "Recommandation de prévention"
    assert item_label("hexavalent@99m") == RULES.by_id["hexavalent"].label


def test_item_for_knows_the_persons_keys_only():
    birth, sex = WOMAN_52
    assert item_for("depistage-sein@50", birth, sex, TODAY).window_from == date(2024, 3, 2)
    for key in ("depistage-sein@51", "dtp-adulte@26", "hexavalent@99m", "inconnu@1",
                "hexavalent", "@2m", "grippe@1990", "grippe@abc", "mt-dents@25"):  # fmt: skip
        assert item_for(key, birth, sex, TODAY) is None, key


# --- The sweep's choices -----------------------------------------------------------------------


def due(person, today, **kwargs) -> list[str]:
    birth, sex = person
    return [i.key for i in due_items(birth, sex, today, grace=GRACE, **kwargs)]


TWO_MONTHS = ["hexavalent@2m", "pneumocoque-nourrisson@2m", "examen-enfant@2m"]


def test_due_the_day_before_the_day_itself_and_during_the_grace():
    assert due(NEWBORN, date(2026, 8, 8)) == []
    assert due(NEWBORN, date(2026, 8, 9)) == TWO_MONTHS  # the day before
    assert due(NEWBORN, date(2026, 8, 10)) == TWO_MONTHS
    assert due(NEWBORN, date(2026, 8, 17)) == TWO_MONTHS  # a sweep 7 days late
    assert due(NEWBORN, date(2026, 8, 18)) == []


def test_not_due_when_done_said_excluded_or_already_reminded():
    day = date(2026, 8, 9)
    assert due(NEWBORN, day, vaccinations=[("hexavalent", date(2026, 8, 1))]) == TWO_MONTHS[1:]
    statuses = {"examen-enfant@2m": ("planifie", None, None)}
    assert due(NEWBORN, day, statuses=statuses) == TWO_MONTHS[:2]
    assert due(NEWBORN, day, excluded_kinds={"vaccination"}) == ["examen-enfant@2m"]
    assert due(NEWBORN, day, notified={"hexavalent@2m"}) == TWO_MONTHS[1:]


def test_the_flu_reminder_reaches_everyone_eligible_at_the_start_of_the_campaign():
    assert due(MAN_66, date(2026, 10, 14)) == ["grippe@2026"]
    assert date(1930, 1, 1) <= birth_date_ranges(date(2026, 10, 7), date(2026, 10, 15))[0][1]
    assert birth_date_ranges(date(2026, 10, 7), date(2026, 10, 15))[0][0] is None


# --- The file ----------------------------------------------------------------------------------


def test_the_file_has_a_version_and_every_rule_a_dated_source():
    data = json.loads(prevention.RULES_FILE.read_text(encoding="utf-8"))
    assert RULES.version == data["version"] == "2026-11-26"
    for rule in data["rules"]:
        source = data["sources"][rule["source"]]
        assert source["date"][:4].isdigit(), rule["id"]
    assert len(RULES.rules) == len(data["rules"])


def _data():
    return json.loads(prevention.RULES_FILE.read_text(encoding="utf-8"))


def _rule(data, rule_id):
    return next(r for r in data["rules"] if r["id"] == rule_id)


MALFORMED = [
    ("version", lambda d: d.pop("version"), "version"),
    ("version date", lambda d: d.update(version="2026-13-40"), "version"),
    ("kind", lambda d: _rule(d, "ror").update(kind="vaccin"), "règle ror"),
    ("sex", lambda d: _rule(d, "depistage-sein").update(sex="femme"), "sex"),
    ("duration", lambda d: _rule(d, "ror")["occurrences"][0].update({"from": "12 mois"}), "P2M"),
    ("order", lambda d: _rule(d, "ror")["occurrences"][1].update({"to": "P12M"}), "après"),
    ("vaccine", lambda d: _rule(d, "ror").update(vaccines=["rougeole"]), "inconnus"),
    ("duplicate", lambda d: d["rules"].append(dict(_rule(d, "ror"))), "déjà utilisé"),
    ("source", lambda d: _rule(d, "hpv").update(source="internet"), "source"),
    ("source date", lambda d: d["sources"]["mt-dents-2025"].update(date="avril"), "date"),
    ("season", lambda d: _rule(d, "grippe")["season"].update({"from": "15/10"}), "--MM-JJ"),
    ("recurrence", lambda d: _rule(d, "mt-dents")["recurrence"].update(every="P6M"), "années"),
    ("empty", lambda d: _rule(d, "hpv").update(occurrences=[]), "occurrences"),
    ("kinds", lambda d: d["kinds"].pop("dentaire"), "kinds"),
    ("screening vaccines", lambda d: _rule(d, "depistage-sein").update(vaccines=["hpv"]), "seule"),
]


@pytest.mark.parametrize(("change", "message"), [(m[1], m[2]) for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])  # fmt: skip
def test_a_malformed_file_fails_loudly(change, message):
    data = _data()
    change(data)
    with pytest.raises(RulesError, match=message):
        parse_rules(data, known_vaccines={"hexavalent", "pneumo", "menb", "menacwy", "ror",
                                          "dtcap", "dtp", "hpv", "grippe"})  # fmt: skip


def test_an_unreadable_file_fails_loudly(tmp_path):
    broken = tmp_path / "prevention.json"
    broken.write_text('{"version": "2026-11-26",', encoding="utf-8")
    with pytest.raises(RulesError, match="illisible"):
        load_rules(broken)


def test_a_new_official_calendar_is_a_data_change(tmp_path):
    data = _data()
    data["version"] = "2027-04-01"
    _rule(data, "hpv")["occurrences"][0]["to"] = "P27Y"  # e.g. a catch-up extended to 26
    changed = tmp_path / "prevention.json"
    changed.write_text(json.dumps(data), encoding="utf-8")
    rules = load_rules(changed)
    birth = date(2004, 1, 1)  # 22: out of the catch-up today, within it with the new file
    assert "hpv@1" not in [i.key for i in calendar_for(birth, "F", TODAY)]
    assert "hpv@1" in [i.key for i in calendar_for(birth, "F", TODAY, rules=rules)]


# --- Properties --------------------------------------------------------------------------------

births = st.dates(min_value=date(1900, 1, 1), max_value=date(2035, 12, 31))
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
sexes = st.sampled_from(["F", "M"])
codes = st.sampled_from(sorted(RULES.vaccine_codes) + ["autre"])
doses = st.lists(st.tuples(codes, st.dates(date(1900, 1, 1), date(2060, 12, 31))), max_size=6)
FEMALE_ONLY = {r.id for r in RULES.rules if r.sex == "F"}


@settings(max_examples=300, deadline=None)
@given(births, sexes, days, doses)
def test_properties_of_any_calendar(birth, sex, today, vaccinations):
    items = calendar_for(birth, sex, today, vaccinations)
    assert items == calendar_for(birth, sex, today, list(reversed(vaccinations)))  # deterministic
    assert len({i.key for i in items}) == len(items)
    assert [i.window_from for i in items] == sorted(i.window_from for i in items)
    for found in items:
        assert found.window_to is None or found.window_from <= found.window_to
        assert found.window_from <= today + prevention.UPCOMING_VISIBLE
        assert found.window_to is None or found.window_to >= today - prevention.PAST_VISIBLE
        assert sex == "F" or found.rule not in FEMALE_ONLY
        assert found.group == (
            found.status if found.status != "a_planifier"
            else ("a_faire" if found.window_from <= today else "a_venir")
        )  # fmt: skip
        assert (found.done_on is not None) == (found.status == "realise")
        assert item_label(found.key) == found.label
        alone = item_for(found.key, birth, sex, today, vaccinations)
        assert alone is not None and alone.window_from == found.window_from


@settings(max_examples=300, deadline=None)
@given(births, sexes, days)
# Found by hypothesis: 65 on 1 January, in the middle of the flu season, was "due" from the
# season's opening, though her period opens on her birthday.
@example(birth=date(1966, 1, 1), sex="F", today=date(2030, 11, 1))
def test_the_sweep_reads_every_person_with_something_due(birth, sex, today):
    found = due_items(birth, sex, today, grace=GRACE)
    ranges = birth_date_ranges(today - GRACE, today + timedelta(days=1))
    inside = any((low is None or low <= birth) and birth <= high for low, high in ranges)
    assert inside or not found
    for each in found:
        assert today - GRACE <= each.window_from <= today + timedelta(days=1)
        assert item_for(each.key, birth, sex, today) is not None


@settings(max_examples=200, deadline=None)
@given(st.dates(date(1905, 1, 1), date(2035, 12, 31)), days)
def test_birth_date_ranges_are_exact_for_fixed_ages(birth, today):
    """Whoever is inside a range has an occurrence opening in the span (a superset only for
    the flu campaign, where everyone eligible is read)."""
    first, last = today - GRACE, today + timedelta(days=1)
    ranges = birth_date_ranges(first, last)
    inside = [r for r in ranges if (r[0] is None or r[0] <= birth) and birth <= r[1]]
    if inside and inside[0][0] is not None:
        ages = {a for rule in RULES.rules for a in _ages(rule)}
        assert any(first <= age.after(birth) <= last for age in ages)


def _ages(rule):
    yield from (o.start for o in rule.occurrences)
    if rule.recurrence is not None:
        yield from (prevention.Age.of(years * 12) for years in rule.recurrence.ages())
    if rule.season is not None:
        yield rule.season.age

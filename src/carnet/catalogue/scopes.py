"""SMART App Launch v2 scopes: parsing, the "within" rule, and their meaning in plain French.

A resource scope reads `<context>/<Resource>.<interactions>`: context `patient` (an app acting
for one profile, with the person's consent) or `system` (a professional's software, client
credentials); interactions are letters in the order c (create), r (read), u (update),
d (delete), s (search). SMART v1 scopes (`.read`, `.write`) are not accepted.
"""

import functools
import re
from dataclasses import dataclass

# The FHIR resources an app may be granted, with what they are in the person's words.
RESOURCES = {
    "Patient": "votre identité (nom, prénom, date de naissance)",
    "DocumentReference": "vos documents de santé",
    "Observation": "vos mesures (poids, tension, glycémie…)",
    "Condition": "vos maladies et sujets de santé",
    "MedicationStatement": "vos traitements",
    "Procedure": "vos hospitalisations",
    "FamilyMemberHistory": "vos antécédents familiaux",
    "AllergyIntolerance": "vos allergies",
    "Immunization": "vos vaccinations",
    "Appointment": "vos rendez-vous",
    "Communication": "vos messages avec les professionnels",
    "Consent": "vos choix de partage avec les professionnels",
    "AuditEvent": "l'historique des accès à votre profil",
}
VERBS = {
    "c": "ajouter",
    "r": "lire",
    "u": "modifier",
    "d": "supprimer",
    "s": "rechercher",
}
SPECIAL = {
    "openid": "Vous reconnaître quand vous revenez dans l'application",
    "fhirUser": "Savoir quel profil vous utilisez",
    "launch/patient": "Savoir pour quel profil vous donnez l'accès",
    "offline_access": (
        "Garder l'accès quand vous n'utilisez pas l'application, jusqu'à la fin de l'accord"
    ),
}
_SCOPE = re.compile(r"^(patient|system)/([A-Za-z]+|\*)\.(c?r?u?d?s?)$")


@dataclass(frozen=True)
class Scope:
    context: str
    resource: str
    letters: str

    def allows(self, context: str, resource: str, letter: str) -> bool:
        return (
            self.context == context and self.resource in (resource, "*") and letter in self.letters
        )


def parse(text: str) -> Scope | None:
    """The resource scope `text` names, or None (a special scope, or not a scope of ours)."""
    match = _SCOPE.match(text)
    if match is None or not match.group(3):
        return None
    context, resource, letters = match.groups()
    if resource != "*" and resource not in RESOURCES:
        return None
    return Scope(context, resource, letters)


def is_known(text: str) -> bool:
    return text in SPECIAL or parse(text) is not None


def within(requested: str, allowed: list[str]) -> bool:
    """Whether `requested` asks for no more than one of the `allowed` scopes gives."""
    if requested in SPECIAL:
        return requested in allowed
    wanted = parse(requested)
    if wanted is None:
        return False
    for text in allowed:
        scope = parse(text)
        if (
            scope is not None
            and scope.context == wanted.context
            and scope.resource in (wanted.resource, "*")
            and set(wanted.letters) <= set(scope.letters)
        ):
            return True
    return False


def permits(granted: list[str], context: str, resource: str, letter: str) -> bool:
    """Whether the `granted` scopes allow interaction `letter` on `resource`."""
    return any(
        (scope := parse(text)) is not None and scope.allows(context, resource, letter)
        for text in granted
    )


def describe(scopes: list[str]) -> list[str]:
    """What the scopes let an app do, one sentence each, in plain French."""
    lines = []
    for text in scopes:
        if text in SPECIAL:
            lines.append(SPECIAL[text])
            continue
        scope = parse(text)
        if scope is None:
            continue
        verbs = [VERBS[letter] for letter in "cruds" if letter in scope.letters]
        what = "toutes vos données de santé" if scope.resource == "*" else RESOURCES[scope.resource]
        action = ", ".join(verbs[:-1]) + " et " + verbs[-1] if len(verbs) > 1 else verbs[0]
        lines.append(f"{action[0].upper()}{action[1:]} {what}")
    return lines


@functools.cache
def all_known() -> dict[str, str]:
    """Every scope the server knows, for django-oauth-toolkit's scope descriptions."""
    known = dict(SPECIAL)
    for context in ("patient", "system"):
        for resource in [*RESOURCES, "*"]:
            for mask in range(1, 32):
                letters = "".join(ch for bit, ch in enumerate("cruds") if mask & (1 << bit))
                text = f"{context}/{resource}.{letters}"
                known[text] = describe([text])[0] if context == "patient" else text
    return known

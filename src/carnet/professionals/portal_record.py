"""The professional portal's other sections of a patient's record, beside the documents
(/pro/patients/<id>/…): the vaccinations, « Entourage et volontés » and the saved synthesis.

Each section is its own page, decided and audited on its own (`consent.services.access`, through
`portal_views._open`): a professional who reads only the documents leaves no trace of the
sections they did not open, and the patient's history names each section read. A denial is the
404 of an id that does not exist. Read only: the professional sees what the patient's profile
holds, and nothing here writes to it.
"""

from dataclasses import dataclass

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from carnet.consent import rules
from carnet.consent.models import Action
from carnet.documents import selectors as documents
from carnet.documents.models import Category
from carnet.profile import selectors as profile
from carnet.profile.sections import SECTIONS
from carnet.profile.vaccines import LABELS as VACCINES

from .portal_views import TEMPLATES, _open, _patient

UNSAID = "Non précisé"
VACCINATION_KINDS = {"primo": "Première vaccination", "rappel": "Rappel"}
ORGAN_DONATION = {
    "pour": "Favorable au don d'organes",
    "contre": "Opposé(e) au don d'organes",
}


@dataclass(frozen=True)
class VaccinationRow:
    name: str
    date: object
    facts: list[tuple[str, str]]  # (label, text), the empty ones left out


@dataclass(frozen=True)
class Contact:
    title: str
    name: str
    relation: str
    phone: str

    @property
    def given(self) -> bool:
        return bool(self.name or self.relation or self.phone)

    @property
    def tel(self) -> str:
        """The number for a tel: link (digits and a leading +), "" when there is none."""
        digits = "".join(c for c in self.phone if c.isdigit())
        return f"+{digits}" if self.phone.strip().startswith("+") else digits


def _context(space, facts, decision, **values) -> dict:
    return {
        "space": space,
        "person": space.person,
        "basis": decision.reason,
        "emergency": facts.emergency,
        **values,
    }


def _vaccination_row(entry) -> VaccinationRow:
    name = VACCINES.get(entry.vaccine, entry.vaccine)
    if entry.other_name:
        name = entry.other_name if entry.vaccine == "autre" else f"{name} ({entry.other_name})"
    facts = [
        ("Type", VACCINATION_KINDS.get(entry.kind, UNSAID)),
        ("Vaccinateur", entry.vaccinator),
        ("Numéro de lot", entry.lot),
        ("Commentaire", entry.comment),
    ]
    return VaccinationRow(name=name, date=entry.date, facts=[(k, v) for k, v in facts if v])


@never_cache
@require_http_methods(["GET"])
def vaccinations(request, space_id):
    _, space, facts = _patient(request, space_id)
    decision = _open(request, space, Action.VACCINATIONS_READ, facts=facts)
    entries = profile.entries(space, SECTIONS["vaccinations"].model)
    rows = [_vaccination_row(entry) for entry in entries]
    return render(
        request, f"{TEMPLATES}vaccinations.html", _context(space, facts, decision, rows=rows)
    )


@never_cache
@require_http_methods(["GET"])
def circle(request, space_id):
    """ "Entourage et volontés": who to call, the trusted person, organ donation, and the current
    advance directives (a document) when this professional may read them."""
    _, space, facts = _patient(request, space_id)
    decision = _open(request, space, Action.CIRCLE_READ, facts=facts)
    entry = profile.single_entry(space, SECTIONS["entourage"].model)
    contacts, donation = [], ""
    if entry is not None:
        contacts = [
            Contact(
                "Personne à prévenir en cas d'urgence",
                entry.emergency_name,
                entry.emergency_relation,
                entry.emergency_phone,
            ),
            Contact(
                "Personne de confiance",
                entry.trusted_name,
                entry.trusted_relation,
                entry.trusted_phone,
            ),
        ]
        donation = ORGAN_DONATION.get(entry.organ_donation, UNSAID)
    # The version the patient sees as current, shown only if this professional may open it
    # (matrix and hidden documents): the same decision as the file's, which audits the opening.
    directives = documents.current_document(space, Category.DIR_ANT)
    if directives is not None and not rules.decide(
        request.user, space, Action.DOCUMENT_READ, directives, facts=facts
    ):
        directives = None
    return render(
        request,
        f"{TEMPLATES}circle.html",
        _context(
            space,
            facts,
            decision,
            circle=entry,
            contacts=contacts,
            donation=donation,
            directives=directives,
        ),
    )


@never_cache
@require_http_methods(["GET"])
def synthesis(request, space_id):
    """The syntheses saved in the record ("Synthèse médicale" documents: the patient's profile
    saved as a PDF, or one written by a professional), newest first; opening one is the
    document read of the portal, audited as such."""
    _, space, facts = _patient(request, space_id)
    decision = _open(request, space, Action.SYNTHESIS_READ, facts=facts)
    query = documents.ListQuery(filter=Category.SYNTH_PML, page=request.GET.get("page", 1))
    page = documents.documents_for_professional(space, facts, query)
    return render(
        request, f"{TEMPLATES}synthesis.html", _context(space, facts, decision, page=page)
    )

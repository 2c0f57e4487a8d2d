"""Fixtures of the consent tests: professionals of the directory with their accounts, the
documents of Alice's space (every category, one hidden, one added by a professional), and
helpers that write the patient's decisions as rows (the services come on top of them)."""

from datetime import date

import pytest
from django.conf import settings

from carnet.accounts.models import User
from carnet.consent.models import Authorisation, Block, EmergencyAccess, TreatingDoctor
from carnet.core import clock
from carnet.core.validators import rpps_key
from carnet.documents.files import file_check
from carnet.documents.models import Category
from carnet.documents.services import document_add
from carnet.enrollment.selectors import space_for_user
from carnet.professionals.models import Professional
from tests.documents.conftest import pdf_bytes

FINESS_HOSPITAL = "750000001"
FINESS_OTHER = "690000002"

_PDF = None


def _pdf() -> bytes:
    global _PDF  # one real PDF for all the documents: fpdf2 is the slow part
    if _PDF is None:
        _PDF = pdf_bytes("Document de test")
    return _PDF


def rpps(n: int) -> str:
    first10 = f"10{n:08d}"
    return f"{first10}{rpps_key(first10)}"


_numbers = iter(range(1, 10**6))


def make_professional(profession="medecin", *, finess="", user=True, **fields) -> Professional:
    """A directory entry, with its account unless `user=False`."""
    n = next(_numbers)
    now = clock.now()
    account = None
    if user:
        # No password (no Argon2 to compute): decide only needs the account.
        account = User.objects.create_user(
            f"pro.consent.{n:05d}", None, kind=User.Kind.PROFESSIONAL
        )
    values = {
        "rpps": rpps(n),
        "last_name": f"FICTIF{n}",
        "first_name": "Claire",
        "profession": profession,
        "specialty": "Médecine générale" if profession == "medecin" else "",
        "finess": finess,
        "user": account,
        "imported_at": now,
        "updated_at": now,
    }
    values.update(fields)
    return Professional.objects.create(**values)


def authorise(space, professional, *, administrator=False) -> Authorisation:
    return Authorisation.objects.create(
        space=space, professional=professional, attested_at=clock.now(), administrator=administrator
    )


def block(space, professional) -> Block:
    return Block.objects.create(space=space, professional=professional, blocked_at=clock.now())


def make_treating(space, professional) -> TreatingDoctor:
    return TreatingDoctor.objects.create(space=space, professional=professional, since=clock.now())


def emergency(space, professional, kind=EmergencyAccess.Kind.OTHER) -> EmergencyAccess:
    now = clock.now()
    return EmergencyAccess.objects.create(
        space=space,
        professional=professional,
        kind=kind,
        reason="Patient inconscient aux urgences",
        started_at=now,
        expires_at=now + settings.CARNET["EMERGENCY_ACCESS_DURATION"],
    )


def add_document(user, space, category=Category.CPT_REND, *, hidden=False, title="Document"):
    return document_add(
        user=user,
        space=space,
        checked=file_check("document.pdf", _pdf()),
        title=title,
        category=category,
        document_date=date(2026, 11, 2),
        hidden=hidden,
    )


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def bob_space(bob):
    return space_for_user(bob)


@pytest.fixture
def generalist(db):
    """Dr Claire, médecin généraliste at the hospital (FINESS_HOSPITAL)."""
    return make_professional("medecin", finess=FINESS_HOSPITAL)


@pytest.fixture
def colleague(db):
    """Another médecin of the same establishment as the generalist."""
    return make_professional("medecin", finess=FINESS_HOSPITAL, first_name="Paul")


@pytest.fixture
def outsider(db):
    """A médecin of another establishment."""
    return make_professional("medecin", finess=FINESS_OTHER, first_name="Marc")


@pytest.fixture
def pharmacist(db):
    return make_professional("pharmacien", first_name="Hugo")


@pytest.fixture
def dentist(db):
    return make_professional("chirurgien_dentiste", first_name="Inès")


@pytest.fixture
def docs(alice, space):
    """One document of Alice's per category (by category code), all visible to professionals."""
    return {c: add_document(alice, space, c, title=f"Document {c}") for c in Category.values}


@pytest.fixture
def hidden_doc(alice, space):
    return add_document(alice, space, Category.CPT_REND, hidden=True, title="Masqué")

"""Fixtures of the messaging tests: a professional with an account, authorised by Alice, and a
conversation started by them through the real service."""

import pytest

from carnet.accounts.models import User
from carnet.consent.models import Authorisation
from carnet.core import clock
from carnet.core.validators import rpps_key
from carnet.enrollment.selectors import space_for_user
from carnet.messaging import services
from carnet.professionals.models import Professional

_numbers = iter(range(1, 10**6))


def make_professional(profession="medecin", **fields) -> Professional:
    n = next(_numbers)
    now = clock.now()
    account = User.objects.create_user(f"pro.messagerie.{n:05d}", None, kind=User.Kind.PROFESSIONAL)
    first10 = f"20{n:08d}"
    values = {
        "rpps": f"{first10}{rpps_key(first10)}",
        "last_name": f"MEDECIN{n}",
        "first_name": "Claire",
        "profession": profession,
        "specialty": "Médecine générale" if profession == "medecin" else "",
        "establishment": "Hôpital Fictif",
        "user": account,
        "imported_at": now,
        "updated_at": now,
    }
    values.update(fields)
    return Professional.objects.create(**values)


def authorise(space, professional) -> Authorisation:
    return Authorisation.objects.create(
        space=space, professional=professional, attested_at=clock.now()
    )


def pro_writes(pro, space, subject="Résultats de votre bilan", body="Bonjour,\nVoici.", **kw):
    return services.conversation_start(
        user=pro.user, professional=pro, space=space, subject=subject, body=body, **kw
    )


@pytest.fixture
def space(alice):
    return space_for_user(alice)


@pytest.fixture
def doctor(space):
    pro = make_professional(last_name="DUPONT", first_name="Claire")
    authorise(space, pro)
    return pro


@pytest.fixture
def conversation(doctor, space):
    return pro_writes(doctor, space)

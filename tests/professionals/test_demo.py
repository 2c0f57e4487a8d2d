"""seed_professionals(): synthetic professionals, the demo account linked to the GP."""

from carnet.accounts.models import User
from carnet.core.validators import parse_rpps
from carnet.professionals.models import Professional
from carnet.professionals.selectors import professional_of
from carnet.professionals.services import DEMO_ACCOUNT, demo_rpps, seed_professionals


def test_seed_creates_marked_professionals_once_and_links_the_demo_account(db):
    account = User.objects.create_user(DEMO_ACCOUNT, "x" * 16, kind=User.Kind.PROFESSIONAL)
    assert seed_professionals() == 6
    assert seed_professionals() == 0
    professionals = list(Professional.objects.all())
    assert len(professionals) == 6
    assert all(p.is_demo and "DÉMO" in p.last_name for p in professionals)
    assert all(parse_rpps(p.rpps) == p.rpps for p in professionals)
    assert {p.profession for p in professionals} >= {"medecin", "pharmacien", "infirmier"}
    doctor = professional_of(account)
    assert doctor.rpps == demo_rpps(1)
    assert (doctor.profession, doctor.specialty) == ("medecin", "Médecine générale")
    assert Professional.objects.filter(user__isnull=False).count() == 1


def test_seed_without_the_demo_account(db):
    seed_professionals()
    assert not Professional.objects.filter(user__isnull=False).exists()

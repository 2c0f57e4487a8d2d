"""A minor's confidential acts (issue 9): a document a professional marks « invisible aux
représentants légaux » never reaches a legal representative — list, detail, file, search,
counts, trash, history — and stays in the minor's space, theirs to see."""

from datetime import date

import pytest
from django.urls import reverse

from carnet.accounts.models import User
from carnet.consent.rules import professional_facts
from carnet.documents.files import file_check
from carnet.documents.models import Document
from carnet.professionals.forms import ProfessionalUploadForm
from carnet.professionals.services import document_add_by_professional
from tests.consent.conftest import authorise, make_professional
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import space_of

from .test_children import attach

SECRET_TITLE = "Consultation contraception"


def pro_adds(pro, space, title, *, confidential, withheld=False):
    return document_add_by_professional(
        user=pro.user,
        space=space,
        facts=professional_facts(space, pro),
        checked=file_check("cr.pdf", pdf_bytes(title)),
        title=title,
        category="CPT_REND",
        document_date=date(2026, 11, 2),
        withheld=withheld,
        confidential=confidential,
    )


@pytest.fixture
def documents(alice_client, alice, child):
    attach(alice_client, child)
    space = space_of(child.person)
    pro = make_professional()
    authorise(space, pro)
    secret = pro_adds(pro, space, SECRET_TITLE, confidential=True)
    shown = pro_adds(pro, space, "Vaccination ROR", confidential=False)
    alice_client.post(reverse("family:switch"), {"profil": str(space.public_id)})
    return space, secret, shown


def test_the_confidential_document_is_absent_from_every_representatives_view(
    alice_client, documents
):
    space, secret, shown = documents
    assert secret.confidential and not shown.confidential
    listing = alice_client.get(reverse("documents:index")).content.decode()
    assert "Vaccination ROR" in listing and SECRET_TITLE not in listing
    search = alice_client.get(reverse("documents:index"), {"q": "contraception"})
    assert SECRET_TITLE not in search.content.decode()
    for name in ("documents:detail", "documents:content"):
        assert alice_client.get(reverse(name, args=[secret.public_id])).status_code == 404
    assert alice_client.get(reverse("documents:detail", args=[shown.public_id])).status_code == 200
    history = alice_client.get(reverse("historique:index")).content.decode()
    assert "Vaccination ROR" in history and SECRET_TITLE not in history
    from carnet.documents.selectors import category_counts, live_documents
    from carnet.enrollment.selectors import space_for_user

    alice = User.objects.get(identifier="alice.martin")
    alice_client.get("/")
    seen = space_for_user(_acting(alice, space))
    assert category_counts(seen) == {"CPT_REND": 1}
    assert list(live_documents(seen)) == [shown]


def _acting(user, space):
    from carnet.family.selectors import link_for

    user.acting_link = link_for(user, space.public_id)
    return user


def test_the_minor_sees_it_in_their_own_space(client, documents, child):
    space, secret, _ = documents
    lea = User.objects.create_user("lea.martin", None, kind=User.Kind.PATIENT, person=child.person)
    client.force_login(lea)
    listing = client.get(reverse("documents:index")).content.decode()
    assert SECRET_TITLE in listing
    assert client.get(reverse("documents:detail", args=[secret.public_id])).status_code == 200
    assert Document.objects.filter(space=space, confidential=True).count() == 1


def test_only_a_minors_documents_can_be_marked(alice):
    assert "confidential" in ProfessionalUploadForm(minor=True).fields
    assert "confidential" not in ProfessionalUploadForm(minor=False).fields
    space = space_of(alice.person)
    pro = make_professional()
    authorise(space, pro)
    doc = pro_adds(pro, space, "Compte rendu", confidential=True)  # an adult's: not kept apart
    assert not doc.confidential


def test_representatives_are_told_of_a_childs_new_document_never_of_a_confidential_one(
    alice_client, alice, child
):
    from carnet.notifications.models import OutboxMessage

    attach(alice_client, child)
    space = space_of(child.person)
    pro = make_professional()
    authorise(space, pro)
    told = OutboxMessage.objects.filter(kind="nouveau_document", to=alice.email)
    pro_adds(pro, space, SECRET_TITLE, confidential=True)
    assert told.count() == 0
    pro_adds(pro, space, "Vaccination ROR", confidential=False)
    [notice] = told
    assert "Vaccination" not in notice.body  # what arrived, never which

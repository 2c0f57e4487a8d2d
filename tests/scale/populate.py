"""Synthetic patients for the scale drills and the load benchmark, made through the real
services (codes issued, spaces activated, documents added). Run inside a stack's operator
command (`Stack.python`), it prints one JSON line: what each patient logs in with.

All of it is synthetic (factory-made persons, `exemple.test` addresses): never real data.
"""

import json
from datetime import date

PASSWORD = "banc-essai-national-2026"


def patients(count: int, *, documents: int = 0, prefix: str = "patient") -> list[dict]:
    from carnet.documents.files import file_check
    from carnet.documents.services import document_add
    from carnet.enrollment import services
    from carnet.enrollment.selectors import own_space
    from carnet.registry.models import InsuredPerson
    from tests.documents.conftest import pdf_bytes
    from tests.enrollment.helpers import CLIENT, credentials, identify
    from tests.factories import InsuredPersonFactory

    # Each operator command is a new process, where the factory would count from 0 again.
    InsuredPersonFactory.reset_sequence(InsuredPerson.objects.count() + 1000)
    made = []
    persons = [
        InsuredPersonFactory(email=f"{prefix}.{n}@exemple.test", mobile="") for n in range(count)
    ]
    for person, code, _ in services.codes_issue(persons):
        identifier = person.email.split("@")[0]
        user = services.space_activate(
            identified=identify(person, code),
            credentials=credentials(person, identifier, PASSWORD, mobile_verified=False),
            client=CLIENT,
        )
        space = own_space(user)
        for n in range(documents):
            data = pdf_bytes(f"Compte rendu synthétique {n} de {identifier}")
            document_add(
                user=user,
                space=space,
                checked=file_check(f"cr-{n}.pdf", data),
                title=f"Compte rendu {n}",
                category="CPT_REND",
                document_date=date(2026, 11, 2),
            )
        made.append({"identifier": identifier, "password": PASSWORD, "email": person.email})
    return made


def print_patients(count: int, documents: int = 0, prefix: str = "patient") -> None:
    print(json.dumps(patients(count, documents=documents, prefix=prefix)))


PRO_ADDRESS = "claire.exercice@medecin.mssante.exemple.fr"


def professional_writing_to(identifiers: list[str]) -> dict:
    """A doctor with an account, a secure messaging address and a password of the SMTP gateway,
    authorised by the spaces of `identifiers` (patients made by `patients`). Once per stack:
    the directory entry's RPPS and account name are numbered from 1 in each process."""
    from carnet.accounts.models import User
    from carnet.enrollment.selectors import own_space
    from carnet.messaging.gateway_services import credential_create
    from carnet.messaging.services import patient_address
    from tests.consent.conftest import authorise, make_professional

    pro = make_professional(messaging_address=PRO_ADDRESS)
    addresses = {}
    for identifier in identifiers:
        space = own_space(User.objects.get(identifier=identifier))
        authorise(space, pro)
        addresses[identifier] = patient_address(space)
    return {
        "rpps": pro.rpps,
        "secret": credential_create(pro),
        "address": pro.messaging_address,
        "patients": addresses,
    }


def deleted_documents(
    identifiers: list[str], count: int, *, due_after: float = 0, due_over: float = 0
) -> list[dict]:
    """`count` documents added to the spaces of `identifiers` and deleted by their owners,
    their deletion then moved back so that they come due for the purge (DOCUMENT_RETENTION
    after the deletion) from `due_after` seconds after this returns, one after the other over
    `due_over` seconds: a purge sweep that keeps finding work. Returns each one's public id
    and blob key."""
    from datetime import timedelta

    from django.conf import settings

    from carnet.accounts.models import User
    from carnet.core import clock
    from carnet.documents.files import file_check
    from carnet.documents.models import Document
    from carnet.documents.services import document_add, document_delete
    from carnet.enrollment.selectors import own_space
    from tests.documents.conftest import pdf_bytes

    owners = [User.objects.get(identifier=identifier) for identifier in identifiers]
    spaces = [own_space(user) for user in owners]
    checked = file_check("a-supprimer.pdf", pdf_bytes("Document a supprimer"))
    docs = []
    for n in range(count):
        user, space = owners[n % len(owners)], spaces[n % len(spaces)]
        doc = document_add(
            user=user,
            space=space,
            checked=checked,
            title=f"A supprimer {n}",
            category="CPT_REND",
            document_date=date(2026, 11, 2),
        )
        docs.append(document_delete(user=user, doc=doc))
    first_due = clock.now() + timedelta(seconds=due_after) - settings.CARNET["DOCUMENT_RETENTION"]
    step = timedelta(seconds=due_over / max(count - 1, 1))
    for n, doc in enumerate(docs):
        doc.deleted_at = first_due + n * step
    Document.objects.bulk_update(docs, ["deleted_at"])
    return [{"id": str(doc.public_id), "blob": doc.blob_id} for doc in docs]

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
    from tests.documents.conftest import pdf_bytes
    from tests.enrollment.helpers import CLIENT, credentials, identify
    from tests.factories import InsuredPersonFactory

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

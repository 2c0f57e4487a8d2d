"""Drive the activation wizard through the Django test client, as a browser would."""

from .helpers import PASSWORD


def identify_form(person, code, **overrides) -> dict:
    data = {
        "code": code,
        "nir": person.nir,
        "birth_date": person.birth_date.strftime("%d/%m/%Y"),
        "card_model": "avec_photo" if person.vitale_photo else "sans_photo",
        "vitale_serial": person.vitale_serial,
    }
    data.update(overrides)
    return data


def post_identify(client, person, code, **overrides):
    return client.post("/activer/", identify_form(person, code, **overrides))


def to_decision(client, issued):
    response = post_identify(client, issued.person, issued.code)
    assert response.status_code == 302 and response["Location"] == "/activer/decision/"
    return response


def to_contacts(client, issued):
    to_decision(client, issued)
    response = client.post("/activer/decision/", {"decision": "activer", "accept_cgu": "on"})
    assert response["Location"] == "/activer/coordonnees/"
    return response


def to_credentials(client, issued):
    to_contacts(client, issued)
    person = issued.person
    response = client.post(
        "/activer/coordonnees/", {"email": person.email, "mobile": person.mobile}
    )
    assert response["Location"] == "/activer/identifiant/", response
    return response


def post_credentials(client, identifier="alice.martin", password=PASSWORD, confirm=None):
    return client.post(
        "/activer/identifiant/",
        {
            "identifier": identifier,
            "password": password,
            "password_confirm": password if confirm is None else confirm,
        },
    )


def login(client, identifier, password=PASSWORD):
    response = client.post("/connexion/", {"identifier": identifier, "password": password})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response

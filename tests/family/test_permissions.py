"""Who may read a minor's space through the linked profiles (issue 9, "Tests that must exist"):
one test per actor per action, through the real views, services, middleware and database.

Léa (11) is attached by Alice, her managing legal representative. While acting for Léa, Alice
adds a document, an allergy and an appointment through the real views; a paediatrician
authorised on Léa's space writes to her. Then each actor asks each patient page of Léa's:

- parent: Alice, acting for Léa (POST /profils/choisir/);
- invited_parent: Paul, Léa's other parent, invited by Alice but who has not answered yet;
- second_parent: Paul once he has accepted the invitation, acting for Léa;
- stranger: Bob, a patient without any link to Léa;
- professional: the paediatrician's own account (authorised on Léa's space, yet the patient
  pages are not theirs: AccountKindMiddleware sends them to their portal).

Two more columns for caregivers ("proches aidants"). A caregiver helps an adult holder, so
their world is Alice's own space instead of Léa's: Alice adds the same document, allergy and
appointment to her own space, the same paediatrician authorised on it writes to her, and she
gives access to Camille (POST /profils/aidants/ajouter/ with Camille's NIR). In these two
columns, "Léa's space" and "Léa's data" below read "Alice's space" and "Alice's data":

- caregiver: Camille, acting for Alice. She reads and writes Alice's documents, medical
  profile, agenda and messaging, never the sharing settings (/parametres/acces/ is a 404, and
  the consent services raise PermissionDenied); /parametres/ is Camille's own account;
- revoked_caregiver: Camille, acting for Alice when Alice revokes her
  (POST /profils/aidants/<link>/retirer/): her next request is for her own profile again.

Denials are 404s exactly like an id that does not exist, and a denied actor's list pages show
their own space, never Léa's data. The export (« Télécharger mes données ») has its own test
over the same actors, at the end.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from carnet.agenda.models import Appointment
from carnet.consent import services as consent
from carnet.consent.models import Authorisation, Block, EmergencySettings, TreatingDoctor
from carnet.core import clock
from carnet.documents.models import Document
from carnet.family.models import Invitation, Link
from carnet.profile.models import Allergy
from tests.documents.conftest import pdf_bytes
from tests.enrollment.helpers import activate, space_of
from tests.messaging.conftest import authorise, make_professional, pro_writes

from .conftest import make_child
from .test_children import attach

SWITCH = reverse("family:switch")
PRO_PORTAL = reverse("accounts:pro_home")

# What only Léa's space holds: none of it may reach a page of someone who does not manage her.
DOCUMENT_TITLE = "Courbe de croissance"
ALLERGEN = "Arachide"
APPOINTMENT_TITLE = "Visite chez la pediatre"
SUBJECT = "Rappel du vaccin ROR"
PAEDIATRICIAN = "ROUSSELIERE"
MARKERS = (DOCUMENT_TITLE, ALLERGEN, APPOINTMENT_TITLE, SUBJECT, PAEDIATRICIAN)


@dataclass
class World:
    alice: object
    paul: object
    bob: object
    paediatrician: object  # professionals.Professional (with its account)
    space: object  # Léa's space
    document: Document
    allergy: Allergy
    appointment: Appointment
    conversation: object
    alice_client: Client
    caregiver: object = None  # Camille, in the caregivers' world (Alice's own space)
    caregiver_link: Link | None = None


_PDF = pdf_bytes("Courbe de croissance de Léa")  # one real PDF, compared byte for byte


def _pdf_upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("croissance.pdf", _PDF, content_type="application/pdf")


def _acting_adds_leas_data(alice_client, space):
    """Alice, acting for Léa, adds a document, an allergy and an appointment (real views)."""
    response = alice_client.post(SWITCH, {"profil": str(space.public_id)})
    assert response.status_code == 302
    _adds_data(alice_client)


def _adds_data(alice_client):
    """A document, an allergy and an appointment, added to the space acted for (real views)."""
    response = alice_client.post(
        reverse("documents:add"),
        {
            "file": _pdf_upload(),
            "title": DOCUMENT_TITLE,
            "category": "CPT_REND",
            "document_date": clock.today().isoformat(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = alice_client.post(
        "/profil-medical/allergies/ajouter/", {"allergen": ALLERGEN, "severity": "legere"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = alice_client.post(
        reverse("agenda:appointment_add"),
        {
            "title": APPOINTMENT_TITLE,
            "search": "",
            "searched": "",
            "professional_name": "Dr Anne Roux",
            "place": "12 rue des Lilas, Lyon",
            "date": (clock.today() + timedelta(days=20)).isoformat(),
            "start": "10:30",
            "duration": "30",
            "end": "",
            "notes": "",
            "action": "enregistrer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    alice_client.get("/")  # the confirmations ("Le document … a été ajouté") are read here


def build_world(client_factory, alice, bob, issue_code, *, paul_accepts: bool) -> World:
    alice_client = client_factory()
    alice_client.force_login(alice)
    paul = activate(issue_code(first_name="Paul", email="paul.martin@exemple.fr"), "paul.martin")
    child = make_child(alice.person, paul.person)
    attach(alice_client, child)
    space = space_of(child.person)
    link = Link.objects.get(user=alice, space=space)
    response = alice_client.post(
        reverse("family:invite", args=[link.public_id]), {"nir": paul.person.nir}
    )
    assert response.status_code == 302
    if paul_accepts:
        paul_client = client_factory()
        paul_client.force_login(paul)
        invitation = Invitation.objects.get(invitee=paul)
        answer = reverse("family:answer", args=[invitation.public_id])
        paul_client.post(answer, {"reponse": "accepter"})
        assert Link.objects.filter(user=paul, space=space, ended_at__isnull=True).exists()
    _acting_adds_leas_data(alice_client, space)
    paediatrician = make_professional(last_name=PAEDIATRICIAN, first_name="Inès")
    authorise(space, paediatrician)
    conversation = pro_writes(paediatrician, space, subject=SUBJECT)
    return World(
        alice=alice,
        paul=paul,
        bob=bob,
        paediatrician=paediatrician,
        space=space,
        document=Document.objects.get(title=DOCUMENT_TITLE),
        allergy=Allergy.objects.get(allergen=ALLERGEN),
        appointment=Appointment.objects.get(title=APPOINTMENT_TITLE),
        conversation=conversation,
        alice_client=alice_client,
    )


def build_caregiver_world(client_factory, alice, bob, issue_code) -> World:
    """Alice's own space, holding the same data as Léa's, and Camille as her caregiver."""
    alice_client = client_factory()
    alice_client.force_login(alice)
    camille = activate(
        issue_code(first_name="Camille", email="camille.petit@exemple.fr"), "camille.petit"
    )
    space = space_of(alice.person)
    response = alice_client.post(reverse("family:caregiver_add"), {"nir": camille.person.nir})
    assert response.status_code == 302, response.content.decode()[:2000]
    link = Link.objects.get(user=camille, space=space, ended_at__isnull=True)
    assert link.kind == Link.Kind.CAREGIVER
    _adds_data(alice_client)  # for herself: no switch
    paediatrician = make_professional(last_name=PAEDIATRICIAN, first_name="Inès")
    authorise(space, paediatrician)
    conversation = pro_writes(paediatrician, space, subject=SUBJECT)
    return World(
        alice=alice,
        paul=None,
        bob=bob,
        paediatrician=paediatrician,
        space=space,
        document=Document.objects.get(title=DOCUMENT_TITLE),
        allergy=Allergy.objects.get(allergen=ALLERGEN),
        appointment=Appointment.objects.get(title=APPOINTMENT_TITLE),
        conversation=conversation,
        alice_client=alice_client,
        caregiver=camille,
        caregiver_link=link,
    )


def revoke_caregiver(world: World) -> None:
    """Alice, the holder, revokes Camille (her own browser, POST …/aidants/<link>/retirer/)."""
    revoke = reverse("family:caregiver_revoke", args=[world.caregiver_link.public_id])
    assert world.alice_client.post(revoke).status_code == 302
    assert Link.objects.get(pk=world.caregiver_link.pk).ended_reason == "revocation"


# --- The actors ----------------------------------------------------------------------------

# What POST /profils/choisir/ with Léa's space id answers to each actor. A professional's POST
# on a patient page is refused by AccountKindMiddleware (403) before the view is reached.
SWITCH_ANSWER = {
    "parent": 302,
    "invited_parent": 404,
    "second_parent": 302,
    "stranger": 404,
    "professional": 403,
    "caregiver": 302,
    "revoked_caregiver": 302,  # before the revocation; a 404 after (test below)
}
ACTORS = list(SWITCH_ANSWER)
CAREGIVERS = {"caregiver", "revoked_caregiver"}  # their world is Alice's own space


def actor_client(world: World, actor: str) -> tuple[Client, object]:
    """The actor's client, after they tried to act for Léa (the switch's answer checked). The
    revoked caregiver acts for Alice, then Alice revokes her: the test's request is her next."""
    if actor == "parent":
        return world.alice_client, world.alice  # already acting for Léa
    user = {
        "invited_parent": world.paul,
        "second_parent": world.paul,
        "stranger": world.bob,
        "professional": world.paediatrician.user,
        "caregiver": world.caregiver,
        "revoked_caregiver": world.caregiver,
    }[actor]
    client = Client()
    client.force_login(user)
    response = client.post(SWITCH, {"profil": str(world.space.public_id)})
    assert response.status_code == SWITCH_ANSWER[actor], actor
    if actor in CAREGIVERS:  # acting for Alice (the confirmation is read here)…
        assert "acting-banner" in client.get("/").content.decode()
    if actor == "revoked_caregiver":  # …until Alice revokes her
        revoke_caregiver(world)
    return client, user


@pytest.fixture
def world_for(alice, bob, issue_code):
    def make(actor: str) -> World:
        if actor in CAREGIVERS:
            return build_caregiver_world(Client, alice, bob, issue_code)
        return build_world(Client, alice, bob, issue_code, paul_accepts=actor == "second_parent")

    return make


# --- The actions -----------------------------------------------------------------------------

# (kind, url of Léa's object or page, the marker Léa's page shows). "list" pages exist for
# everyone (a denied patient sees their own space there); "object" pages target Léa's object
# by its id (a denied patient gets the 404 of an id that does not exist).
ACTIONS = {
    "documents_list": ("list", lambda w: reverse("documents:index"), DOCUMENT_TITLE),
    "document_detail": (
        "object",
        lambda w: reverse("documents:detail", args=[w.document.public_id]),
        DOCUMENT_TITLE,
    ),
    "document_file": (
        "object",
        lambda w: reverse("documents:content", args=[w.document.public_id]),
        None,  # the bytes themselves are compared
    ),
    "profile_index": ("list", lambda w: reverse("profile:index"), None),
    "profile_section": ("list", lambda w: "/profil-medical/allergies/", ALLERGEN),
    "profile_entry": (
        "object",
        lambda w: f"/profil-medical/allergies/{w.allergy.public_id}/modifier/",
        ALLERGEN,
    ),
    "agenda": ("list", lambda w: reverse("agenda:index"), APPOINTMENT_TITLE),
    "appointment": (
        "object",
        lambda w: reverse("agenda:appointment", args=[w.appointment.public_id]),
        APPOINTMENT_TITLE,
    ),
    "messaging": ("list", lambda w: reverse("messaging:index"), SUBJECT),
    "conversation": (
        "object",
        lambda w: reverse("messaging:conversation", args=[w.conversation.public_id]),
        SUBJECT,
    ),
    "history": ("list", lambda w: reverse("historique:index"), PAEDIATRICIAN),
    "consent": ("list", lambda w: reverse("consent:index"), PAEDIATRICIAN),
    "settings": ("settings", lambda w: reverse("parametres:index"), None),
}

# Expected outcomes:
#   CHILD    — 200, Léa's data on the page;
#   OWN      — 200, the account holder's own space (or own settings), none of Léa's data;
#   GONE     — 404, the very page an id that does not exist gets;
#   PRO      — a professional is sent to their portal (302 to /pro/), nothing of Léa's.
CHILD, OWN, GONE, PRO = "child", "own", "404", "pro_home"

_ALLOWED = {"parent", "second_parent", "caregiver"}  # acting for the space

# The table: one row per action, one column per actor (the order of ACTORS); one test per cell.
# The last two columns ask Alice's own space (the caregivers' world), the others Léa's. The
# caregiver gets the 404 of the sharing settings (consent); settings are always the account
# holder's own.
EXPECTED = {
    #                   parent  invited  second  stranger  professional  caregiver  revoked
    "documents_list":  (CHILD,  OWN,     CHILD,  OWN,      PRO,          CHILD,     OWN),
    "document_detail": (CHILD,  GONE,    CHILD,  GONE,     PRO,          CHILD,     GONE),
    "document_file":   (CHILD,  GONE,    CHILD,  GONE,     PRO,          CHILD,     GONE),
    "profile_index":   (CHILD,  OWN,     CHILD,  OWN,      PRO,          CHILD,     OWN),
    "profile_section": (CHILD,  OWN,     CHILD,  OWN,      PRO,          CHILD,     OWN),
    "profile_entry":   (CHILD,  GONE,    CHILD,  GONE,     PRO,          CHILD,     GONE),
    "agenda":          (CHILD,  OWN,     CHILD,  OWN,      PRO,          CHILD,     OWN),
    "appointment":     (CHILD,  GONE,    CHILD,  GONE,     PRO,          CHILD,     GONE),
    "messaging":       (CHILD,  OWN,     CHILD,  OWN,      PRO,          CHILD,     OWN),
    "conversation":    (CHILD,  GONE,    CHILD,  GONE,     PRO,          CHILD,     GONE),
    "history":         (CHILD,  OWN,     CHILD,  OWN,      PRO,          CHILD,     OWN),
    "consent":         (CHILD,  OWN,     CHILD,  OWN,      PRO,          GONE,      OWN),
    "settings":        (OWN,    OWN,     OWN,    OWN,      PRO,          OWN,       OWN),
}  # fmt: skip
assert set(EXPECTED) == set(ACTIONS)
MATRIX = [
    (actor, action, row[i]) for action, row in EXPECTED.items() for i, actor in enumerate(ACTORS)
]


def _page(response) -> str:
    """The page without its per-response CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


FALLBACK = "Vous agissez de nouveau pour votre propre profil."


def _without_notices(page: str) -> str:
    """The page without its one-time notices (messages framework), blanks collapsed."""
    page = re.sub(r'<div class="messages" role="status">.*?</div>', "", page, flags=re.S)
    return re.sub(r"\s+", " ", page)


def _assert_same_404(actor, response, missing) -> None:
    """The 404 of an existing object is the very page of a missing id's."""
    if actor == "revoked_caregiver":  # her first request since the revocation says so
        assert FALLBACK in _page(response)
        assert _without_notices(_page(response)) == _without_notices(_page(missing))
    else:
        assert _page(response) == _page(missing)


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def _missing_twin(url: str, world: World) -> str:
    """The same URL with Léa's object id replaced by an id that does not exist."""
    for obj in (world.document, world.allergy, world.appointment, world.conversation):
        url = url.replace(str(obj.public_id), str(uuid.uuid4()))
    return url


def _assert_nothing_of_leas(page: str, world: World) -> None:
    for marker in MARKERS:
        assert marker not in page, marker
    assert world.space.person.nir not in page  # not even her messaging address


@pytest.mark.parametrize(("actor", "action", "expected"), MATRIX)
def test_actor_action(world_for, actor, action, expected):
    world = world_for(actor)
    client, user = actor_client(world, actor)
    kind, make_url, marker = ACTIONS[action]
    url = make_url(world)
    response = client.get(url)

    if expected == PRO:
        assert response.status_code == 302 and response.url == PRO_PORTAL
        assert not any(m.encode() in _body(response) for m in MARKERS)
        return

    if expected == GONE:
        missing = client.get(_missing_twin(url, world))
        assert response.status_code == missing.status_code == 404
        _assert_same_404(actor, response, missing)
        _assert_nothing_of_leas(_page(response), world)
        return

    assert response.status_code == 200, (actor, action)
    if action == "document_file":
        assert _body(response) == _PDF
        return
    page = _page(response)

    if expected == CHILD:
        assert "acting-banner" in page
        if marker is not None:
            assert marker in page
        if action == "profile_index":  # the overview counts Léa's allergy
            assert 'href="/profil-medical/allergies/"' in page
        if action == "messaging":  # Léa's own messaging address
            assert world.space.person.nir in page
        return

    # OWN: the account holder's own space, or their own settings.
    if kind == "settings":
        assert user.identifier in page and user.email in page
        _assert_nothing_of_leas(page, world)
        if actor in _ALLOWED:
            assert "acting-banner" in page  # still acting for Léa, yet these are their settings
        if actor in CAREGIVERS:  # Camille's account, never Alice's
            assert world.alice.identifier not in page and world.alice.email not in page
        return
    assert "acting-banner" not in page
    _assert_nothing_of_leas(page, world)
    if action == "messaging":  # their own messaging address, not Léa's
        assert user.person.nir in page


# --- Writes on Léa's objects by those who do not manage her --------------------------------

# (url of Léa's object, form data, how to read the object back to check it did not change).
WRITES = {
    "document_delete": (
        lambda w: reverse("documents:delete", args=[w.document.public_id]),
        {},
        lambda w: Document.objects.get(pk=w.document.pk).deleted_at,
    ),
    "document_hide": (
        lambda w: reverse("documents:hide", args=[w.document.public_id]),
        {"valeur": "1"},
        lambda w: Document.objects.get(pk=w.document.pk).hidden,
    ),
    "profile_entry_delete": (
        lambda w: f"/profil-medical/allergies/{w.allergy.public_id}/supprimer/",
        {},
        lambda w: Allergy.objects.get(pk=w.allergy.pk).deleted_at,
    ),
    "appointment_delete": (
        lambda w: reverse("agenda:appointment_delete", args=[w.appointment.public_id]),
        {},
        lambda w: Appointment.objects.get(pk=w.appointment.pk).deleted_at,
    ),
    "conversation_archive": (
        lambda w: reverse("messaging:archive", args=[w.conversation.public_id]),
        {"valeur": "1"},
        lambda w: type(w.conversation).objects.get(pk=w.conversation.pk).archived_at,
    ),
}
# A patient who does not manage Léa gets the 404 of a missing id; a professional's POST on a
# patient page is refused before any view (403, AccountKindMiddleware).
WRITE_MATRIX = [
    (actor, action, 403 if actor == "professional" else 404)
    for actor in ("invited_parent", "stranger", "professional", "revoked_caregiver")
    for action in WRITES
]


@pytest.mark.parametrize(("actor", "action", "status"), WRITE_MATRIX)
def test_actor_write_on_leas_object_changes_nothing(world_for, actor, action, status):
    world = world_for(actor)
    client, _ = actor_client(world, actor)
    make_url, data, read_back = WRITES[action]
    before = read_back(world)
    url = make_url(world)
    response = client.post(url, data)
    assert response.status_code == status
    if status == 404:
        missing = client.post(_missing_twin(url, world), data)
        assert missing.status_code == 404
        _assert_same_404(actor, response, missing)
    assert read_back(world) == before


# (the value read back once the caregiver's write went through)
WRITTEN = {
    "document_delete": lambda value: value is not None,
    "document_hide": lambda value: value is True,
    "profile_entry_delete": lambda value: value is not None,
    "appointment_delete": lambda value: value is not None,
    "conversation_archive": lambda value: value is not None,
}
assert set(WRITTEN) == set(WRITES)


@pytest.mark.parametrize("action", WRITES)
def test_the_caregiver_writes_on_the_holders_objects(world_for, action):
    world = world_for("caregiver")
    client, _ = actor_client(world, "caregiver")
    make_url, data, read_back = WRITES[action]
    assert not WRITTEN[action](read_back(world))
    response = client.post(make_url(world), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert WRITTEN[action](read_back(world))


# --- A caregiver never manages who accesses the holder's space -----------------------------


def _sharing(world: World) -> tuple:
    """Everything the sharing services below could change on Alice's space."""
    space, pro = world.space, world.paediatrician
    return (
        Block.objects.filter(space=space).count(),
        TreatingDoctor.objects.filter(space=space).count(),
        list(Authorisation.objects.filter(space=space, professional=pro).values()),
        list(EmergencySettings.objects.filter(space=space).values()),
    )


SHARING_SERVICES = {
    "block_set": lambda w, user: consent.block_set(
        user=user, space=w.space, professional=w.paediatrician, blocked=True
    ),
    "treating_doctor_set": lambda w, user: consent.treating_doctor_set(
        user=user, space=w.space, professional=w.paediatrician
    ),
    "administrator_set": lambda w, user: consent.administrator_set(
        user=user, space=w.space, professional=w.paediatrician, administrator=True
    ),
    "emergency_settings_update": lambda w, user: consent.emergency_settings_update(
        user=user, space=w.space, samu_allowed=False, emergency_allowed=False, hidden_visible=True
    ),
}


@pytest.mark.parametrize("actor", sorted(CAREGIVERS))
@pytest.mark.parametrize("service", SHARING_SERVICES)
def test_the_consent_services_refuse_a_caregiver(world_for, actor, service):
    world = world_for(actor)
    client, camille = actor_client(world, actor)
    before = _sharing(world)
    with pytest.raises(PermissionDenied):  # refused by the service, whatever the page did
        SHARING_SERVICES[service](world, camille)
    assert _sharing(world) == before


def test_the_caregiver_acting_for_the_holder_gets_the_404_of_the_sharing_pages(world_for):
    world = world_for("caregiver")
    client, camille = actor_client(world, "caregiver")
    response = client.get(reverse("consent:index"))
    assert response.status_code == 404
    _assert_nothing_of_leas(_page(response), world)
    # Back to her own profile, the sharing settings are her own space's.
    assert client.post(SWITCH, {"profil": "moi"}).status_code == 302
    page = _page(client.get(reverse("consent:index")))
    assert "acting-banner" not in page
    _assert_nothing_of_leas(page, world)


# (url name, with the professional's id?, form data): every sharing decision of the pages.
SHARING_POSTS = {
    "block": ("consent:block", True, {"valeur": "1"}),
    "treating": ("consent:treating", True, {}),
    "administrator": ("consent:administrator", True, {"valeur": "1"}),
    "emergency": ("consent:emergency", False, {"samu_allowed": "", "hidden_visible": "on"}),
}


@pytest.mark.parametrize("post", SHARING_POSTS)
def test_the_sharing_posts_of_a_caregiver_are_404s_and_change_nothing(world_for, post):
    world = world_for("caregiver")
    client, _ = actor_client(world, "caregiver")
    name, with_id, data = SHARING_POSTS[post]
    args = [world.paediatrician.public_id] if with_id else []
    before = _sharing(world)
    response = client.post(reverse(name, args=args), data)
    assert response.status_code == 404
    _assert_nothing_of_leas(_page(response), world)
    assert _sharing(world) == before


def test_the_holder_herself_blocks_through_the_same_post(world_for):
    """The control of the test above: the very POST goes through for Alice."""
    world = world_for("caregiver")
    url = reverse("consent:block", args=[world.paediatrician.public_id])
    assert world.alice_client.post(url, {"valeur": "1"}).status_code == 302
    assert Block.objects.filter(space=world.space, professional=world.paediatrician).exists()


# --- Revoking a caregiver ends the access at the caregiver's next request -------------------


def test_after_the_revocation_the_caregivers_next_request_is_for_her_own_profile(world_for):
    world = world_for("caregiver")
    client, camille = actor_client(world, "caregiver")
    assert DOCUMENT_TITLE in client.get(reverse("documents:index")).content.decode()
    revoke_caregiver(world)
    page = _page(client.get("/"))
    assert "acting-banner" not in page
    assert FALLBACK in page
    _assert_nothing_of_leas(page, world)
    for name, (kind, make_url, _) in ACTIONS.items():
        response = client.get(make_url(world))
        assert response.status_code == (404 if kind == "object" else 200), name
        page = _page(response)
        assert "acting-banner" not in page, name
        _assert_nothing_of_leas(page, world)
    # She cannot act for Alice again: the 404 of a space that does not exist.
    switch = client.post(SWITCH, {"profil": str(world.space.public_id)})
    unknown = client.post(SWITCH, {"profil": str(uuid.uuid4())})
    assert switch.status_code == unknown.status_code == 404
    assert _page(switch) == _page(unknown)
    # Alice keeps her own space, whole.
    assert DOCUMENT_TITLE in world.alice_client.get(reverse("documents:index")).content.decode()


# --- Leaving one's own link ends the access at the next request ---------------------------


def test_after_the_parent_leaves_the_next_request_shows_nothing_of_leas(alice, bob, issue_code):
    world = build_world(Client, alice, bob, issue_code, paul_accepts=False)
    client = world.alice_client
    assert DOCUMENT_TITLE in client.get(reverse("documents:index")).content.decode()
    link = Link.objects.get(user=alice, space=world.space)
    response = client.post(reverse("family:leave", args=[link.public_id]), {"confirmed": "on"})
    assert response.status_code == 302
    assert Link.objects.get(pk=link.pk).ended_at is not None
    for name, (kind, make_url, _) in ACTIONS.items():
        response = client.get(make_url(world))
        if kind == "object":
            assert response.status_code == 404, name
        else:
            assert response.status_code == 200, name
        page = _page(response)
        assert "acting-banner" not in page, name
        _assert_nothing_of_leas(page, world)
    # And she cannot act for Léa again.
    assert client.post(SWITCH, {"profil": str(world.space.public_id)}).status_code == 404


def test_when_one_parent_leaves_the_other_keeps_managing(alice, bob, issue_code):
    world = build_world(Client, alice, bob, issue_code, paul_accepts=True)
    paul_client, _ = actor_client(world, "second_parent")
    link = Link.objects.get(user=alice, space=world.space)
    world.alice_client.post(reverse("family:leave", args=[link.public_id]), {"confirmed": "on"})
    page = paul_client.get(reverse("documents:index")).content.decode()
    assert DOCUMENT_TITLE in page and "acting-banner" in page
    response = world.alice_client.get(reverse("documents:detail", args=[world.document.public_id]))
    assert response.status_code == 404


def test_the_invited_parent_sees_the_invitation_but_none_of_leas_data(alice, bob, issue_code):
    world = build_world(Client, alice, bob, issue_code, paul_accepts=False)
    client, _ = actor_client(world, "invited_parent")
    page = _page(client.get(reverse("family:index")))
    assert "Invitations reçues" in page  # the invitation is his to answer
    _assert_nothing_of_leas(page, world)
    assert client.get("/").status_code == 200
    _assert_nothing_of_leas(_page(client.get("/")), world)


# --- The export (« Télécharger mes données », issue 10) --------------------------------------

# Who may export the space in question (Léa's; Alice's own in the caregivers' world): offered on
# the request form, and accepted when posted. A professional is sent to their portal.
EXPORTS = {
    "parent": True,
    "invited_parent": False,
    "second_parent": True,
    "stranger": False,
    "professional": None,
    "caregiver": False,  # a caregiver never exports (issue 9)
    "revoked_caregiver": False,
}
assert list(EXPORTS) == ACTORS


@pytest.mark.parametrize("actor", ACTORS)
def test_export_of_the_space(world_for, actor):
    from carnet.exports.models import Export

    world = world_for(actor)
    client, user = actor_client(world, actor)
    page = client.get(reverse("exports:request"))
    wanted = {"profiles": [str(world.space.public_id)]}
    if EXPORTS[actor] is None:
        assert page.status_code == 302 and page.url == PRO_PORTAL
        assert client.post(reverse("exports:request"), wanted).status_code == 403
        assert not Export.objects.exists()
        return
    assert page.status_code == 200
    checkboxes = re.findall(r'<input[^>]*name="profiles"[^>]*>', _page(page))
    offered = any(str(world.space.public_id) in box for box in checkboxes)
    assert offered is EXPORTS[actor], actor
    answer = client.post(reverse("exports:request"), wanted)
    assert answer.status_code == (302 if EXPORTS[actor] else 404), answer.content.decode()[:500]
    assert Export.objects.filter(spaces=world.space).exists() is EXPORTS[actor]

"""FHIR R4 endpoints (/fhir/): read and search of the connected profile's own data.

Thin views: authenticate the app (http.caller_of), check its scope for the resource and the
interaction, read through the registry (resources.py), map with mappers.py, write the call to
the profile's history (« Services connectés »).
"""

from django.contrib.auth.decorators import login_not_required
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from carnet.catalogue import scopes as smart
from carnet.catalogue.services import api_call_record
from carnet.core import clock
from carnet.documents import services as documents
from carnet.documents.responses import file_response

from . import capability, mappers, resources, search, writes
from .http import Refusal, caller_of, outcome, resource_response


def _fhir_view(view):
    """Public to the login middleware (bearer tokens instead), CSRF-free (no cookies), and
    every Refusal answered as an OperationOutcome."""

    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Refusal as refusal:
            return refusal.response

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return login_not_required(csrf_exempt(wrapped))


@_fhir_view
@require_safe
def metadata(request):
    return resource_response(capability.statement(request))


@_fhir_view
def read(request, resource_type: str, resource_id: str):
    if request.method == "PUT":
        return _update(request, resource_type, resource_id)
    if request.method not in ("GET", "HEAD"):
        return outcome(405, "Opération non prise en charge sur cette ressource.")
    caller = caller_of(request)  # the token first: 401 before anything else is said
    kind = resources.kind(resource_type)
    caller.require(resource_type, "r")
    obj = kind.get(caller, resource_id)
    _record(caller, "application_lecture", _audited_type(resource_type), resource_id)
    return resource_response(kind.map(obj))


def _audited_type(resource_type: str) -> str:
    """A document is "document" in the trail, whoever reads it: the history's rules about
    documents (withheld, a minor's confidential acts) then apply to the app's reads too."""
    return "document" if resource_type in ("DocumentReference", "Binary") else resource_type


def _body(request, resource_type: str) -> bytes:
    """The request's JSON body, refused past its type's limit before it is read."""
    if request.content_type not in ("application/fhir+json", "application/json"):
        raise Refusal(415, "Le corps doit être du JSON FHIR (application/fhir+json).")
    limit = writes.body_limit(resource_type)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise Refusal(413, "La ressource dépasse la taille autorisée.")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise Refusal(413, "La ressource dépasse la taille autorisée.")
    return raw


@_fhir_view
def search_type(request, resource_type: str):
    if request.method == "POST":
        return _create(request, resource_type)
    if request.method not in ("GET", "HEAD"):
        return outcome(405, "Opération non prise en charge pour cette ressource.")
    caller = caller_of(request)
    kind = resources.kind(resource_type)
    caller.require(resource_type, "s")
    bundle = search.run(request, caller, kind)
    _record(caller, "application_recherche", resource_type)
    return resource_response(bundle)


@_fhir_view
@require_safe
def binary(request, resource_id: str):
    """The file of a DocumentReference, decrypted and streamed (its integrity checked)."""
    caller = caller_of(request)
    caller.require("DocumentReference", "r")
    doc = resources.kind("DocumentReference").get(caller, resource_id)
    try:
        data = documents.document_content(
            user=writes.AppActor(caller), doc=doc, download=True, client=caller.client
        )
    except documents.DocumentUnreadable:
        return outcome(500, "Ce fichier est illisible ; l'incident est enregistré.")
    _record(caller, "application_lecture", "document", resource_id)
    return file_response(doc, data, download=True)


@_fhir_view
@require_safe
def summary(request, resource_id: str):
    """Patient/$summary: the International Patient Summary of the connected profile."""
    caller = caller_of(request)
    for resource_type in resources.SUMMARY_NEEDS:
        caller.require(resource_type, "r")
    space = resources.kind("Patient").get(caller, resource_id)
    _record(caller, "application_synthese", "Patient", resource_id)
    return resource_response(mappers.ips_bundle(space, now=clock.now()))


# What may be created, by whom (writes.py checks the caller), and how it reads back.
CREATES = {
    "DocumentReference": (writes.document_reference_create, mappers.document_reference),
    "Observation": (writes.observation_create, mappers.observation),
    "Appointment": (writes.appointment_create, mappers.appointment),
}


def _create(request, resource_type: str):
    caller = caller_of(request)
    if resource_type not in CREATES:
        resources.kind(resource_type)  # an unknown type: 404
        return outcome(405, f"La création de « {resource_type} » n'est pas prise en charge.")
    create, to_fhir = CREATES[resource_type]
    caller.require(resource_type, "c")  # before reading a body it may not send
    row = create(caller, _body(request, resource_type))
    if caller.space is not None:
        _record(caller, "application_ajout", resource_type, str(row.public_id))
    location = request.build_absolute_uri(f"/fhir/{resource_type}/{row.public_id}")
    return resource_response(to_fhir(row), status=201, headers={"Location": location})


def _update(request, resource_type: str, resource_id: str):
    caller = caller_of(request)
    if resource_type != "Appointment":
        resources.kind(resource_type)
        return outcome(405, f"La modification de « {resource_type} » n'est pas prise en charge.")
    if not any(
        smart.permits(caller.scopes, caller.context, resource_type, letter) for letter in "ud"
    ):
        caller.require(resource_type, "u")  # the refusal
    writes.own_appointment(caller, resource_id)  # 404 before reading anything
    row = writes.appointment_update(caller, resource_id, _body(request, resource_type))
    action = "application_annulation" if row.deleted_at else "application_modification"
    _record(caller, action, resource_type, resource_id)
    return resource_response(mappers.appointment(row))


def _record(caller, action: str, object_type: str = "", object_id: str = "") -> None:
    """The app's call, in the profile's history (« Services connectés »)."""
    api_call_record(
        app=caller.app,
        connection=caller.connection,
        space=caller.space,
        action=action,
        client=caller.client,
        object_type=object_type,
        object_id=object_id,
    )

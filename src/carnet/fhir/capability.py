"""/fhir/metadata: the CapabilityStatement, written from the registry (exactly what exists),
with the SMART security extension that clients (fhirclient) read the OAuth endpoints from."""

from django.urls import reverse
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from carnet.core import clock

from .resources import KINDS

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def statement(request) -> CapabilityStatement:
    absolute = request.build_absolute_uri
    resources = []
    for kind in KINDS.values():
        interactions = [{"code": "read"}, {"code": "search-type"}]
        params = [{"name": "patient", "type": "reference"}]
        if kind.date_field:
            params.append({"name": "date", "type": "date"})
        params += [{"name": name, "type": "token"} for name in kind.params]
        entry = {
            "type": kind.name,
            "interaction": interactions,
            "searchParam": params,
        }
        if kind.name == "Patient":
            entry["operation"] = [
                {
                    "name": "summary",
                    "definition": "http://hl7.org/fhir/uv/ips/OperationDefinition/summary",
                }
            ]
        resources.append(entry)
    resources.append({"type": "Binary", "interaction": [{"code": "read"}]})
    return CapabilityStatement(
        status="active",
        date=clock.now().date().isoformat(),
        kind="instance",
        fhirVersion="4.3.0",
        format=["json"],
        publisher="Carnet",
        implementation={"description": "Carnet — API FHIR", "url": absolute("/fhir/")},
        rest=[
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "extension": [
                        {
                            "url": OAUTH_URIS,
                            "extension": [
                                {
                                    "url": "authorize",
                                    "valueUri": absolute(reverse("oauth2_provider:authorize")),
                                },
                                {
                                    "url": "token",
                                    "valueUri": absolute(reverse("oauth2_provider:token")),
                                },
                                {
                                    "url": "revoke",
                                    "valueUri": absolute(reverse("oauth2_provider:revoke-token")),
                                },
                            ],
                        }
                    ],
                },
                "resource": resources,
            }
        ],
    )

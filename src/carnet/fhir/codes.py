"""The code systems and tables of codes of the FHIR mappers, in one place.

Only codes we are sure of are here (LOINC, SNOMED CT, HL7 terminology); everything else is
carried as `text` or in a code system of our own (`CARNET`). Displays of external codes are the
systems' own (English); our French labels go in `CodeableConcept.text`.
"""

from dataclasses import dataclass

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActClass"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
AUDIT_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"

# Identifiers: the INS (NIR of the insured person) and the RPPS of professionals.
INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"
RPPS = "urn:oid:1.2.250.1.71.4.2.1"
BUNDLE_IDENTIFIER = "urn:ietf:rfc:3986"

# Our own code systems (stable codes of our models, French displays).
CARNET = "https://carnet.example/fhir/CodeSystem"
DOCUMENT_CATEGORY = f"{CARNET}/document-category"
VACCINE = f"{CARNET}/vaccine"
AUDIT_ACTION = f"{CARNET}/audit-action"


@dataclass(frozen=True)
class Code:
    code: str
    display: str | None = None  # None where we are not sure of the system's display


# Document categories with an obvious LOINC document type; the others carry ours only.
DOCUMENT_LOINC = {
    "SYNTH_PML": Code("60591-5", "Patient summary Document"),
    "BIOLOGIE": Code("11502-2", "Laboratory report"),
    "RADIO_SC": Code("18748-4", "Diagnostic imaging study"),
    "DIR_ANT": Code("42348-3", "Advance directives"),
}


@dataclass(frozen=True)
class Measure:
    """How a measurement kind of `profile.measures.TYPES` is coded. `loinc` None: text only."""

    loinc: Code | None
    ucum: str | None  # UCUM code of the unit; None: the unit is shown as text only
    category: str | None  # observation-category code


VITAL, LAB, EXAM, ACTIVITY = "vital-signs", "laboratory", "exam", "activity"
CATEGORY_DISPLAY = {
    VITAL: "Vital Signs",
    LAB: "Laboratory",
    EXAM: "Exam",
    ACTIVITY: "Activity",
    "social-history": "Social History",
}

MEASURES = {
    "poids": Measure(Code("29463-7", "Body weight"), "kg", VITAL),
    "taille": Measure(Code("8302-2", "Body height"), "cm", VITAL),
    "imc": Measure(Code("39156-5", "Body mass index (BMI) [Ratio]"), "kg/m2", VITAL),
    "perimetre_cranien": Measure(Code("9843-4", "Head Occipital-frontal circumference"), "cm",
                                 VITAL),
    "temperature": Measure(Code("8310-5", "Body temperature"), "Cel", VITAL),
    "tension": Measure(Code("85354-9", "Blood pressure panel with all children optional"),
                       "mm[Hg]", VITAL),
    "frequence_cardiaque": Measure(Code("8867-4", "Heart rate"), "/min", VITAL),
    # Stored in g/L (mmol/L typed are converted): mass/volume, in blood (meters, labs alike).
    "glycemie": Measure(Code("2339-0", "Glucose [Mass/volume] in Blood"), "g/L", LAB),
    "hba1c": Measure(Code("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"), "%", LAB),
    "tour_taille": Measure(Code("8280-0", "Waist Circumference at umbilicus by Tape measure"),
                           "cm", EXAM),
    "pas": Measure(Code("41950-7", "Number of steps in 24 hour Measured"), "/d", ACTIVITY),
    # A 0–10 pain score typed by the person: no code we are sure fits; text and "/10" only.
    "douleur": Measure(None, None, None),
}  # fmt: skip
SYSTOLIC = Code("8480-6", "Systolic blood pressure")
DIASTOLIC = Code("8462-4", "Diastolic blood pressure")
MM_HG = "mm[Hg]"

BLOOD_GROUP = Code("882-1", "ABO and Rh group [Type] in Blood")
TOBACCO = Code("72166-2", "Tobacco smoking status")
ALCOHOL = Code("11331-6", "History of Alcohol use")
# Lifestyle.Tobacco → SNOMED CT finding (international edition); "occasionnel" stays text.
TOBACCO_SNOMED = {
    "jamais": Code("266919005", "Never smoked tobacco"),
    "ancien": Code("8517006", "Ex-smoker"),
    "quotidien": Code("449868002", "Smokes tobacco daily"),
}

# FamilyHistory.Relation → v3-RoleCode.
RELATIONS = {
    "mere": Code("MTH", "mother"),
    "pere": Code("FTH", "father"),
    "grand-mere": Code("GRMTH", "grandmother"),
    "grand-pere": Code("GRFTH", "grandfather"),
    "soeur": Code("SIS", "sister"),
    "frere": Code("BRO", "brother"),
    "arriere-grand-mere": Code("GGRMTH", "great grandmother"),
    "arriere-grand-pere": Code("GGRFTH", "great grandfather"),
    "tante": Code("AUNT", "aunt"),
    "oncle": Code("UNCLE", "uncle"),
    "autre": Code("FAMMEMB", "family member"),
}

ALLERGY_SEVERITY = {"legere": "mild", "moderee": "moderate", "severe": "severe"}

# The International Patient Summary (IPS) document and its sections.
IPS_DOCUMENT = Code("60591-5", "Patient summary Document")
SECTION_MEDICATIONS = Code("10160-0", "History of Medication use Narrative")
SECTION_ALLERGIES = Code("48765-2", "Allergies and adverse reactions Document")
SECTION_PROBLEMS = Code("11450-4", "Problem list - Reported")
SECTION_PAST_ILLNESS = Code("11348-0", "History of Past illness Narrative")
SECTION_PROCEDURES = Code("47519-4", "History of Procedures Document")
SECTION_IMMUNIZATIONS = Code("11369-6", "History of Immunization Narrative")
SECTION_VITAL_SIGNS = Code("8716-3", "Vital signs")
SECTION_RESULTS = Code("30954-2", "Relevant diagnostic tests/laboratory data Narrative")
SECTION_SOCIAL_HISTORY = Code("29762-2", "Social history Narrative")
EMPTY_UNAVAILABLE = Code("unavailable", "Unavailable")
CARE_PROVISION = Code("PCPR", "care provision")

CONSENT_CATEGORY = Code("59284-0", "Patient Consent")
PRIVACY = Code("patient-privacy", "Privacy Consent")
OPT_IN = Code("OPTIN")
OPT_OUT = Code("OPTOUT")
RECIPIENT = Code("PRCP", "primary information recipient")
RESTRICTED = Code("R", "restricted")
OBJECT_ROLE_PATIENT = Code("1", "Patient")

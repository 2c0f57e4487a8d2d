"""`carnet seed_demo`: synthetic demo persons and accounts (clearly marked, never real).

Only in demo mode (CARNET_DEMO=1): the passwords and the authenticator key of the demo accounts
are published (README, the output of `make run`), so they must never exist in a real database.
"""

import shlex
from base64 import b32decode
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from carnet.accounts.models import User
from carnet.catalogue.models import App
from carnet.core import clock
from carnet.core.validators import nir_key
from carnet.documents.care import care_demo_events
from carnet.enrollment import services
from carnet.professionals.services import DEMO_ACCOUNT, seed_professionals
from carnet.registry.models import InsuredPerson

DEMO_PASSWORD_PATIENT = "jardin-lune-orage-42"  # noqa: S105 (synthetic demo account)
DEMO_PASSWORD_PRO = "stethoscope-bleu-2026"  # noqa: S105 (synthetic demo account)
DEMO_PASSWORD_OPERATOR = "registre-caisse-2026"  # noqa: S105 (synthetic demo account)
DEMO_PRO_IDENTIFIER = DEMO_ACCOUNT  # "demo.professionnel", linked to Dr Claire DÉMO
# The authenticator key of demo.professionnel: synthetic and published, for the demo only. In
# base32 it reads "DEMO CARNET FICTIF TOTP NE PAS UTILISE(R)". Never created outside demo mode:
# seed_demo (and demo_totp, which prints its current code) refuse to run there.
DEMO_TOTP_SECRET = "DEMOCARNETFICTIFTOTPNEPASUTILISE"  # noqa: S105 (synthetic demo key)
# Her registered messaging address, if the directory entry has none (seed_professionals gives
# the same one): synthetic, under a demo domain.
DEMO_PRO_MESSAGING_ADDRESS = "claire.demo@demo.mssante.exemple.fr"
DEMO_TOTP_DEVICE = "Application d'authentification (démonstration)"
NOT_DEMO = (
    "le mode démonstration n'est pas actif (CARNET_DEMO=1) : {what}. Les comptes de "
    "démonstration ont des mots de passe et une clé d'authentification publiés ; ils ne doivent "
    "exister que dans une base de démonstration (make run)."
)


def demo_nir(sex: int, birth: date, order: int) -> str:
    # Département 99 (born abroad) and commune 999 keep these clearly synthetic.
    first13 = f"{sex}{birth:%y}{birth:%m}99999{order:03d}"
    return f"{first13}{nir_key(first13):02d}"


def _serial(n: int) -> str:
    return f"9{n:010d}"  # 11 digits: a card with photo


DEMO = {
    "pending": dict(
        first_name="Camille",
        last_name="DÉMO-ATTENTE",
        sex="F",
        birth_date=date(1985, 3, 14),
        email="camille.demo@exemple.fr",
        mobile="+33600000001",
        order=1,
    ),
    "active": dict(
        first_name="Marie-Noëlle",
        last_name="DÉMO-ACTIVE",
        sex="F",
        birth_date=date(1972, 6, 2),
        email="marie.demo@exemple.fr",
        mobile="+33600000002",
        order=2,
    ),
    "opposed": dict(
        first_name="Bernard",
        last_name="DÉMO-OPPOSITION",
        sex="M",
        birth_date=date(1958, 11, 20),
        email="bernard.demo@exemple.fr",
        mobile="",
        order=3,
    ),
    "parent1": dict(
        first_name="Julie",
        last_name="DÉMO-FAMILLE",
        sex="F",
        birth_date=date(1988, 9, 9),
        email="julie.demo@exemple.fr",
        mobile="+33600000004",
        order=4,
    ),
    "parent2": dict(
        first_name="Karim",
        last_name="DÉMO-FAMILLE",
        sex="M",
        birth_date=date(1986, 1, 30),
        email="karim.demo@exemple.fr",
        mobile="+33600000005",
        order=5,
    ),
    "child1": dict(
        first_name="Léa",
        last_name="DÉMO-FAMILLE",
        sex="F",
        birth_date=date(2016, 4, 12),
        email="",
        mobile="",
        order=6,
    ),
    "child2": dict(
        first_name="Noah",
        last_name="DÉMO-FAMILLE",
        sex="M",
        birth_date=date(2019, 12, 1),
        email="",
        mobile="",
        order=7,
    ),
}


class Command(BaseCommand):
    help = (
        "Crée les données de démonstration (fictives) : une personne avec un code provisoire, "
        "une active (profil, documents, agenda), une opposée, une famille, et les comptes de "
        "démonstration (dont le "
        "professionnel demo.professionnel et son application d'authentification), et des "
        "applications fictives dans le catalogue (dont « Carnet Démo — Suivi tension », "
        "client_id demo-suivi-tension, que joue examples/smart_app.py). Ne refait "
        "rien si elles existent déjà. Seulement en mode démonstration (CARNET_DEMO=1)."
    )

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError(NOT_DEMO.format(what="carnet seed_demo ne crée rien"))
        if InsuredPerson.objects.filter(is_demo=True).exists():
            # A database seeded before the demo professional had an authenticator gets it now.
            pro = User.objects.filter(
                identifier=DEMO_PRO_IDENTIFIER, kind=User.Kind.PROFESSIONAL
            ).first()
            added = []
            if pro is not None and demo_totp_device_ensure(pro)[1]:
                added.append(
                    f"l'application d'authentification de démonstration ajoutée à {pro.identifier}"
                )
            # A database seeded before the agenda existed gets the demo agenda, once.
            if seed_agenda_if_missing():
                added.append("les rendez-vous et le rappel de démonstration de demo.patient")
            # A database seeded before the catalogue existed gets its demo entries, once.
            if seed_catalogue():
                added.append("les applications de démonstration du catalogue")
            if added:
                self.stdout.write(
                    "Données de démonstration déjà présentes : rien n'est modifié, sauf "
                    f"{' et '.join(added)}."
                )
            else:
                self.stdout.write("Données de démonstration déjà présentes : rien n'est modifié.")
            self.print_accounts()
            return
        with transaction.atomic():
            persons = {}
            for key, spec in DEMO.items():
                spec = dict(spec)
                order = spec.pop("order")
                sex_digit = 1 if spec["sex"] == "M" else 2
                persons[key] = InsuredPerson.objects.create(
                    nir=demo_nir(sex_digit, spec["birth_date"], order),
                    vitale_serial=_serial(order),
                    vitale_photo=True,
                    scheme="Régime général",
                    is_demo=True,
                    **spec,
                )
            guardians = f"{persons['parent1'].nir}|{persons['parent2'].nir}"
            for child in ("child1", "child2"):
                persons[child].guardian_nirs = guardians
                persons[child].save(update_fields=["guardian_nirs"])
            issued = {p.pk: code for p, code, _ in services.codes_issue(list(persons.values()))}
        # The active person and the opposed one go through the real services.
        for key, decision in (
            ("active", "activer"),
            ("opposed", "opposer"),
            ("parent1", "activer"),
        ):
            person = persons[key]
            identified = services.identification_check(
                code=issued[person.pk],
                nir=person.nir,
                birth_date=person.birth_date,
                vitale_photo=True,
                vitale_serial=person.vitale_serial,
                client="seed_demo",
            )
            if decision == "opposer":
                services.space_oppose(identified=identified, client="seed_demo")
                continue
            identifier = "demo.patient" if key == "active" else "demo.parent"
            services.space_activate(
                identified=identified,
                credentials=services.Credentials(
                    identifier=identifier,
                    password=DEMO_PASSWORD_PATIENT,
                    email=person.email,
                    email_verified=True,
                    mobile=person.mobile,
                    mobile_verified=bool(person.mobile),
                ),
                client="seed_demo",
            )
        seed_profile(User.objects.get(identifier="demo.patient"))
        seed_documents(User.objects.get(identifier="demo.patient"))
        care_demo_events(persons["active"])
        # Dr Claire DÉMO, médecin généraliste: linked to her directory entry by
        # seed_professionals(), with no authorisation on any demo space (she attests the
        # patient's consent during the demo journey), and a confirmed authenticator.
        pro = User.objects.create_user(
            DEMO_PRO_IDENTIFIER,
            DEMO_PASSWORD_PRO,
            kind=User.Kind.PROFESSIONAL,
            email="dr.demo@exemple.fr",
            email_verified=True,
        )
        demo_totp_device_ensure(pro)
        seed_professionals()
        seed_agenda(User.objects.get(identifier="demo.patient"), pro)
        demo_operator_ensure()
        seed_catalogue()
        self.stdout.write("Données de démonstration créées (toutes fictives).")
        pending = persons["pending"]
        self.stdout.write(
            "\nPersonne en attente d'activation (code dans la boîte d'envoi) :\n"
            f"  NIR {pending.nir} · né(e) le {pending.birth_date:%d/%m/%Y} · carte avec photo "
            f"n° {pending.vitale_serial} · code provisoire {issued[pending.pk]}"
        )
        self.print_accounts()

    def print_accounts(self):
        pending = InsuredPerson.objects.filter(is_demo=True, last_name="DÉMO-ATTENTE").first()
        self.stdout.write(
            "\nComptes de démonstration :\n"
            f"  usager actif        demo.patient        / {DEMO_PASSWORD_PATIENT}\n"
            f"  parent (famille)    demo.parent         / {DEMO_PASSWORD_PATIENT}\n"
            f"  professionnel       {DEMO_PRO_IDENTIFIER}  / {DEMO_PASSWORD_PRO}"
            "  + code : carnet demo_totp\n"
            f"  opérateur           demo.operateur      / {DEMO_PASSWORD_OPERATOR}\n"
        )
        patient = InsuredPerson.objects.filter(is_demo=True, last_name="DÉMO-ACTIVE").first()
        self.stdout.write(
            "Portail des professionnels /pro/connexion/ : Dr Claire DÉMO, médecin généraliste\n"
            "  code à 6 chiffres sans application : CARNET_DEMO=1 .venv/bin/carnet demo_totp\n"
            f"  ou application d'authentification, clé {grouped(DEMO_TOTP_SECRET)} (TOTP, 30 s)\n"
            f"  {demo_otpauth_uri()}"
        )
        if patient:
            self.stdout.write(
                f"  patient à rechercher : {patient.first_name} {patient.last_name}, INS "
                f"{patient.nir}, né(e) le {patient.birth_date:%d/%m/%Y}\n"
                "  (au départ, aucune autorisation : le professionnel atteste le consentement du "
                "patient)"
            )
        self.stdout.write("")
        if App.objects.filter(client_id=DEMO_APP_CLIENT_ID).exists():
            self.stdout.write(
                "Application connectée de démonstration (SMART on FHIR) : « "
                f"{DEMO_APPS[0]['name']} », client_id {DEMO_APP_CLIENT_ID}\n"
                "  dans un autre terminal : .venv/bin/python examples/smart_app.py "
                "(voir examples/README.md)\n"
            )
        self.print_smtp_demo()
        if pending:
            self.stdout.write(
                "Personne à activer : NIR "
                f"{pending.nir}, née le {pending.birth_date:%d/%m/%Y}, carte Vitale avec photo "
                f"n° {pending.vitale_serial} ; son code est dans la boîte d'envoi.\n"
            )

    def print_smtp_demo(self):
        """The demo professional's way into the SMTP gateway, ready to paste: her credential is
        kept only hashed, so each run of seed_demo makes a new one (the previous one stops
        working) and prints it. Demo mode only, like the rest of this command."""
        demo = demo_smtp_access()
        if demo is None:
            return
        self.stdout.write(
            "Messagerie sécurisée : Dr Claire DÉMO écrit à Marie-Noëlle DÉMO-ACTIVE par la "
            "passerelle SMTP\n"
            f"  passerelle {demo.server} (STARTTLS obligatoire ; certificat auto-signé de "
            "démonstration, que swaks ne vérifie pas)\n"
            f"  identifiant {demo.login} (RPPS) · mot de passe {demo.secret}\n"
            "  (nouveau mot de passe à chaque lancement de seed_demo : le précédent ne sert plus)\n"
            f"  expéditeur {demo.sender} · destinataire {demo.recipient}\n"
            "  La passerelle n'accepte ce destinataire qu'une fois le consentement attesté par "
            "Dr Claire DÉMO\n"
            "  dans le portail (« Trouver un patient », « J'atteste… », « Accéder au dossier ») ; "
            "avant, elle répond 550.\n"
            "  Puis, dans un autre terminal :\n"
            f"  {demo.swaks_command()}\n"
            "  (pièce jointe : ajoutez --attach-type application/pdf "
            "--attach @chemin/du/fichier.pdf)\n"
            "  Le message arrive dans la messagerie de demo.patient (/messagerie/), qui peut "
            "répondre.\n"
        )


DEMO_SMTP_SUBJECT = "Bonjour"
DEMO_SMTP_BODY = (
    "Bonjour, vos derniers résultats sont normaux. À bientôt. "
    "Dr Claire DÉMO (message fictif de démonstration)"
)


@dataclass(frozen=True)
class DemoSmtpAccess:
    server: str  # host:port of the gateway
    login: str  # the RPPS
    secret: str
    sender: str  # the registered messaging address
    recipient: str  # <NIR>@<CARNET_PATIENT_MAIL_DOMAIN>

    def swaks_args(self) -> list[str]:
        return [
            "swaks",
            "--server",
            self.server,
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            self.login,
            "--auth-password",
            self.secret,
            "--from",
            self.sender,
            "--to",
            self.recipient,
            "--header",
            f"Subject: {DEMO_SMTP_SUBJECT}",
            "--body",
            DEMO_SMTP_BODY,
        ]

    def swaks_command(self) -> str:
        return shlex.join(self.swaks_args())


def demo_smtp_access() -> DemoSmtpAccess | None:
    """A NEW gateway credential for Dr Claire DÉMO (her registered messaging address set if she
    has none) and what swaks needs to write to the demo patient; None when the demo data is not
    there. Demo mode only: the secret is printed."""
    from carnet.enrollment.models import Space
    from carnet.messaging.gateway_services import credential_create
    from carnet.messaging.services import MessagingError, patient_address
    from carnet.professionals.models import Professional

    if not settings.DEMO_MODE:
        raise CommandError(NOT_DEMO.format(what="pas d'accès SMTP de démonstration"))
    doctor = (
        Professional.objects.select_related("user")
        .filter(user__identifier=DEMO_PRO_IDENTIFIER, user__kind=User.Kind.PROFESSIONAL)
        .first()
    )
    space = (
        Space.objects.select_related("person")
        .filter(person__is_demo=True, person__last_name="DÉMO-ACTIVE")
        .first()
    )
    if doctor is None or space is None:
        return None
    if not doctor.messaging_address:
        doctor.messaging_address = DEMO_PRO_MESSAGING_ADDRESS
        doctor.save(update_fields=["messaging_address"])
    try:
        secret = credential_create(doctor)
    except MessagingError:
        return None
    host = settings.SMTPD_HOST
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (listening everywhere: reach it locally)
        host = "127.0.0.1"
    return DemoSmtpAccess(
        server=f"{host}:{settings.SMTPD_PORT}",
        login=doctor.rpps,
        secret=secret,
        sender=doctor.messaging_address,
        recipient=patient_address(space),
    )


def demo_operator_ensure() -> User:
    """demo.operateur (its password is published): created if it is not there."""
    operator = User.objects.filter(identifier="demo.operateur", kind=User.Kind.OPERATOR).first()
    if operator is None:
        operator = User.objects.create_user(
            "demo.operateur",
            DEMO_PASSWORD_OPERATOR,
            kind=User.Kind.OPERATOR,
            is_staff=True,
            email="operateur.demo@exemple.fr",
            email_verified=True,
        )
    return operator


# The demo catalogue: synthetic apps, each with a fixed, documented client_id. The first one is
# played by examples/smart_app.py (a public client, PKCE S256, loopback redirect: any port of
# 127.0.0.1 is accepted, RFC 8252); the last one is suspended, so it is not in the catalogue.
DEMO_APP_CLIENT_ID = "demo-suivi-tension"
DEMO_APP_REDIRECT_URI = "http://127.0.0.1:8765/retour"
DEMO_APPS = [
    dict(
        client_id=DEMO_APP_CLIENT_ID,
        name="Carnet Démo — Suivi tension",
        category=App.Category.MEASURES,
        description=(
            "Application fictive (démonstration) : elle lit votre identité, vos documents et vos "
            "mesures, et ajoute les tensions prises avec votre tensiomètre. Le script "
            "examples/smart_app.py joue son rôle."
        ),
        allowed_scopes=(
            "launch/patient openid fhirUser offline_access patient/Patient.rs "
            "patient/Observation.crs patient/DocumentReference.rs"
        ),
        redirect_uris=[DEMO_APP_REDIRECT_URI],
    ),
    dict(
        client_id="demo-rendez-vous",
        name="Carnet Démo — Rendez-vous",
        category=App.Category.APPOINTMENTS,
        description=(
            "Service fictif de prise de rendez-vous (démonstration) : les rendez-vous pris "
            "chez un professionnel s'ajoutent à votre agenda, et s'y modifient ou s'y annulent."
        ),
        allowed_scopes=(
            "launch/patient openid fhirUser patient/Patient.rs patient/Appointment.cruds"
        ),
        redirect_uris=["https://rendez-vous.demo.exemple.fr/retour"],
    ),
    dict(
        client_id="demo-prevention",
        name="Carnet Démo — Prévention",
        category=App.Category.PREVENTION,
        description=(
            "Application fictive de prévention (démonstration) : elle lit vos vaccinations et "
            "vos sujets de santé pour vous rappeler les dépistages et les rappels de vaccins."
        ),
        allowed_scopes=(
            "launch/patient openid fhirUser patient/Patient.rs patient/Immunization.rs "
            "patient/Condition.rs"
        ),
        redirect_uris=["https://prevention.demo.exemple.fr/retour"],
    ),
    dict(
        client_id="demo-bien-etre",
        name="Carnet Démo — Bien-être",
        category=App.Category.WELLBEING,
        description=(
            "Application fictive (démonstration), suspendue par l'opérateur : elle n'apparaît "
            "pas dans le catalogue et ses jetons sont refusés."
        ),
        allowed_scopes="launch/patient patient/Observation.rs",
        redirect_uris=["https://bien-etre.demo.exemple.fr/retour"],
        status=App.Status.SUSPENDED,
    ),
]


def seed_catalogue() -> bool:
    """The demo entries of the catalogue, registered by demo.operateur through the real
    service, each under its fixed client_id; an entry already there (whatever its status now)
    is left as it is. Returns whether anything was added."""
    from carnet.catalogue.services import app_register

    missing = [
        spec for spec in DEMO_APPS if not App.objects.filter(client_id=spec["client_id"]).exists()
    ]
    if not missing:
        return False
    with transaction.atomic():
        operator = demo_operator_ensure()
        for spec in missing:
            app, _ = app_register(
                operator=operator,
                name=spec["name"],
                editor="Carnet (démonstration)",
                description=spec["description"],
                category=spec["category"],
                allowed_scopes=spec["allowed_scopes"].split(),
                redirect_uris=spec["redirect_uris"],
                status=spec.get("status", App.Status.ONLINE),
                client="seed_demo",
            )
            # app_register draws a random client_id; the demo's is fixed and documented.
            app.client_id = spec["client_id"]
            app.save(update_fields=["client_id"])
    return True


def grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def demo_totp_device_ensure(user) -> tuple[TOTPDevice, bool]:
    """The confirmed authenticator of the demo professional, keyed with DEMO_TOTP_SECRET:
    (device, created). Demo mode only (the key is published)."""
    if not settings.DEMO_MODE:
        raise CommandError(NOT_DEMO.format(what="pas de clé d'authentification publiée"))
    return TOTPDevice.objects.get_or_create(
        user=user,
        name=DEMO_TOTP_DEVICE,
        defaults={"key": b32decode(DEMO_TOTP_SECRET).hex(), "confirmed": True},
    )


def demo_otpauth_uri() -> str:
    """The key URI an authenticator app reads (as on the professionals' activation page)."""
    issuer = settings.SERVICE_NAME.replace(":", "")
    params = urlencode(
        {
            "secret": DEMO_TOTP_SECRET,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": 6,
            "period": 30,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{quote(issuer)}:{quote(DEMO_PRO_IDENTIFIER)}?{params}"


def seed_profile(user) -> None:
    """A few synthetic profile entries, so that the demo shows lists, charts and the PDF."""
    from decimal import Decimal

    from carnet.enrollment.selectors import space_for_user
    from carnet.profile import models as profile
    from carnet.profile.services import entry_create

    space = space_for_user(user)

    def add(model, **values):
        entry_create(actor=user, space=space, model=model, values=values)

    add(
        profile.Condition,
        name="Asthme (démo)",
        start_year=1990,
        ongoing=True,
        comment="Donnée fictive de démonstration.",
    )
    add(
        profile.Treatment,
        name="Salbutamol (démo)",
        ongoing=True,
        start_year=2015,
        start_month=4,
        dosage="2 bouffées en cas de gêne respiratoire.",
    )
    add(
        profile.Allergy,
        allergen="Pollen de bouleau (démo)",
        reaction="Rhinite",
        severity=profile.Allergy.Severity.MILD,
    )
    add(
        profile.Vaccination,
        vaccine="grippe",
        date=date(2025, 10, 20),
        kind=profile.Vaccination.Kind.BOOSTER,
        vaccinator="Pharmacie (démo)",
    )
    now = clock.now()
    for months, weight in enumerate([71.5, 70.8, 70.2, 69.9, 69.4]):
        add(
            profile.Measurement,
            kind="poids",
            value=Decimal(str(weight)),
            taken_at=now - timedelta(days=30 * (4 - months)),
        )
    add(
        profile.Measurement, kind="taille", value=Decimal("165"), taken_at=now - timedelta(days=120)
    )
    for days, (high, low) in enumerate([(132, 84), (128, 82), (124, 80)]):
        add(
            profile.Measurement,
            kind="tension",
            value=Decimal(high),
            value2=Decimal(low),
            taken_at=now - timedelta(days=14 * (2 - days)),
        )


def _at(days: int, hour: int, minute: int = 0) -> datetime:
    """A moment `days` from today at a local time (Europe/Paris)."""
    return timezone.make_aware(
        datetime.combine(clock.today() + timedelta(days=days), time(hour, minute))
    )


def seed_agenda(patient, pro) -> None:
    """The agenda of demo.patient: two upcoming appointments (one she added, with a professional
    typed freely; one Dr Claire DÉMO added, read only for her), a past one and a reminder. Claire's
    goes straight through the agenda's service, as the portal adds it, with no authorisation: the
    demo journey starts with none (she attests consent there)."""
    from carnet.agenda.models import Appointment
    from carnet.agenda.services import (
        AppointmentData,
        ReminderData,
        appointment_add,
        reminder_add,
    )
    from carnet.enrollment.selectors import space_for_user
    from carnet.professionals.selectors import professional_of

    space = space_for_user(patient)
    mine = [
        AppointmentData(
            title="Contrôle de la vue (démo)",
            starts_at=_at(5, 16, 15),
            ends_at=_at(5, 16, 45),
            professional_name="Dr Sophie DÉMO-OPHTALMO",
            place="Cabinet d'ophtalmologie DÉMO, 3 rue des Lilas, 75011 Paris",
            notes="Rendez-vous fictif de démonstration. Apporter mes lunettes.",
        ),
        AppointmentData(
            title="Prise de sang (démo)",
            starts_at=_at(-21, 8, 0),
            professional_name="Laboratoire DÉMO",
            place="Laboratoire DÉMO, 12 avenue de la République, 75011 Paris",
            notes="Rendez-vous fictif de démonstration. À jeun.",
        ),
    ]
    for data in mine:
        appointment_add(user=patient, space=space, data=data, client="seed_demo")
    doctor = professional_of(pro)
    if doctor is not None:
        # The portal's name for a médecin (professionals.portal_agenda.source_name).
        appointment_add(
            user=pro,
            space=space,
            data=AppointmentData(
                title="Consultation de suivi de l'asthme (démo)",
                starts_at=_at(12, 9, 30),
                ends_at=_at(12, 9, 50),
                professional=doctor,
                place=doctor.establishment,
                notes="Rendez-vous fictif de démonstration. Apporter le carnet de suivi.",
            ),
            source=Appointment.Source.PROFESSIONAL,
            source_name=f"Dr {doctor.first_name} {doctor.last_name}",
            client="seed_demo",
        )
    reminder_add(
        user=patient,
        space=space,
        data=ReminderData(
            title="Renouveler l'ordonnance de salbutamol (démo)",
            date=clock.today() + timedelta(days=20),
            comment="Rappel fictif de démonstration.",
        ),
        client="seed_demo",
    )


def seed_agenda_if_missing() -> bool:
    """The demo agenda for a demo database seeded before it: only when demo.patient's space is
    active and its agenda never had a row (what she deleted herself stays deleted)."""
    from carnet.agenda.models import Appointment, Reminder
    from carnet.enrollment.models import Space
    from carnet.enrollment.selectors import space_for_user

    patient = User.objects.filter(identifier="demo.patient", kind=User.Kind.PATIENT).first()
    pro = User.objects.filter(identifier=DEMO_PRO_IDENTIFIER, kind=User.Kind.PROFESSIONAL).first()
    space = space_for_user(patient) if patient is not None else None
    if pro is None or space is None or space.state != Space.State.ACTIVE:
        return False
    if (
        Appointment.objects.filter(space=space).exists()
        or Reminder.objects.filter(space=space).exists()
    ):
        return False
    with transaction.atomic():
        seed_agenda(patient, pro)
    return True


def _demo_pdf(title: str, lines: list[str]) -> bytes:
    from fpdf import FPDF

    from carnet.profile.pdf import FONTS_DIR

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONTS_DIR / "DejaVuSans.ttf"))
    pdf.set_font("DejaVu", size=16)
    pdf.add_page()
    pdf.multi_cell(0, 10, text=title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=11)
    pdf.multi_cell(
        0,
        7,
        text="DOCUMENT FICTIF DE DÉMONSTRATION — aucune donnée réelle.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    for line in lines:
        pdf.multi_cell(0, 7, text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _demo_png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("L", (480, 360), 20)
    draw = ImageDraw.Draw(image)
    draw.ellipse((140, 60, 340, 320), outline=200, width=6)
    draw.text((10, 10), "IMAGE FICTIVE DE DEMONSTRATION", fill=255)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def seed_documents(user) -> None:
    """A few synthetic documents (marked as such), so that the demo list is not empty."""
    from carnet.documents.files import file_check
    from carnet.documents.services import document_add
    from carnet.enrollment.selectors import space_for_user

    space = space_for_user(user)
    today = clock.now().date()
    samples = [
        (
            "Compte rendu consultation cardiologie.pdf",
            _demo_pdf(
                "Compte rendu de consultation — cardiologie",
                ["Patiente vue pour un bilan de tension artérielle.", "Conclusion : à revoir."],
            ),
            "CPT_REND",
            120,
        ),
        (
            "Ordonnance.pdf",
            _demo_pdf("Ordonnance", ["Paracétamol 500 mg : 1 comprimé si douleur, 3 par jour."]),
            "ORD_SOIN",
            40,
        ),
        ("Radio du genou.png", _demo_png(), "RADIO_SC", 200),
        (
            "Questions pour mon médecin.txt",
            "Questions à poser (document fictif) :\n- refaire la prise de sang ?\n".encode(),
            "AUTR_DOC",
            3,
        ),
    ]
    for name, data, category, days_ago in samples:
        checked = file_check(name, data)
        document_add(
            user=user,
            space=space,
            checked=checked,
            title=checked.suggested_title,
            category=category,
            document_date=today - timedelta(days=days_ago),
            client="seed_demo",
        )

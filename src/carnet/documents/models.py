"""Documents of the medical record and the insurer's care history.

A document row points to one encrypted blob (core.Blob). Titles are health content: they stay
in the database (never in logs, emails or file names on disk) and go with the space's purge.
"""

import unicodedata
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Category(models.TextChoices):
    SYNTHESE = "SYNTHESE", "Ma santé en résumé"
    ORD_SOIN = "ORD_SOIN", "Ordonnances et soins"
    RADIO_SC = "RADIO_SC", "Radio, écho, scanner, IRM"
    BIOLOGIE = "BIOLOGIE", "Résultats de biologie"
    CPT_REND = "CPT_REND", "Comptes rendus"
    DEPISTAG = "DEPISTAG", "Prévention et dépistages"
    CERT_MED = "CERT_MED", "Certificats médicaux"
    DOC_ADM = "DOC_ADM", "Pièces administratives"
    AUTR_DOC = "AUTR_DOC", "Autres documents"
    SYNTH_PML = "SYNTH_PML", "Synthèse médicale"
    DIR_ANT = "DIR_ANT", "Directives anticipées"
    QUEST_SANTE = "QUEST_SANTE", "Questionnaire santé"


def sort_key(text: str) -> str:
    """Accent- and case-insensitive key, so that "échographie" sorts with the e's."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))[:200]


# The list reads live rows only: its indexes leave out deleted documents.
LIVE = Q(deleted_at__isnull=True)


class Document(models.Model):
    class AuthorKind(models.TextChoices):
        USAGER = "usager", "Patient"
        PROFESSIONNEL = "professionnel", "Professionnel de santé"
        SERVICE = "service", "Service"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: documents go away only through their own purge or the space's purge.
    space = models.ForeignKey("enrollment.Space", on_delete=models.PROTECT, related_name="+")
    blob = models.OneToOneField("core.Blob", on_delete=models.PROTECT, related_name="+")
    title = models.CharField("Titre", max_length=50)
    title_key = models.CharField(max_length=200)
    category = models.CharField("Catégorie", max_length=12, choices=Category.choices)
    document_date = models.DateField("Date du document")
    media_type = models.CharField(max_length=60)  # sniffed from the content, never the browser's
    extension = models.CharField(max_length=5)
    size = models.PositiveIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_kind = models.CharField(max_length=15, choices=AuthorKind.choices)
    # Kept as written at the time (a professional may change establishment later).
    author_name = models.CharField(max_length=150)
    author_establishment = models.CharField(max_length=150, blank=True)
    author_key = models.CharField(max_length=200)
    hidden = models.BooleanField("Masqué aux professionnels de santé", default=False)
    # A minor's confidential act (contraception, abortion…), marked by the professional who
    # added it: never shown to the legal representatives or anyone acting for the minor.
    confidential = models.BooleanField("Invisible aux représentants légaux", default=False)
    pinned = models.BooleanField("Épinglé", default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.CharField(max_length=120, blank=True)
    # Withheld by its professional author until the announcement consultation: hidden from the
    # patient while in the future (released by the author, or by `carnet tick` at this moment).
    withheld_until = models.DateTimeField(null=True, blank=True)
    withheld_notice_sent_at = models.DateTimeField(null=True, blank=True)  # "un document attend"

    class Meta:
        # One index per sort of the list, over the live rows of a space only: a page costs the
        # same with 100 or 100,000 documents (bench/documents.py).
        indexes = [
            models.Index(
                fields=["space", "-document_date", "-id"], condition=LIVE, name="doc_live_date"
            ),
            models.Index(
                fields=["space", "title_key", "id"], condition=LIVE, name="doc_live_title"
            ),
            models.Index(
                fields=["space", "author_key", "id"], condition=LIVE, name="doc_live_author"
            ),
            models.Index(
                fields=["space", "category", "withheld_until", "-document_date", "-id"],
                condition=LIVE,
                name="doc_live_category",
            ),
            # The sweep that releases withheld documents once due.
            models.Index(
                fields=["withheld_until"],
                condition=Q(withheld_until__isnull=False),
                name="doc_withheld_due",
            ),
            models.Index(
                fields=["space", "-document_date", "-id"],
                condition=LIVE & Q(pinned=True),
                name="doc_live_pinned",
            ),
            # "1 - 20 sur N": the count reads this index only, never the table (SQLite does not
            # count through a partial index whose columns miss `deleted_at`; `withheld_until`
            # is read by the count of what the patient may see).
            models.Index(
                fields=["space", "deleted_at", "withheld_until"],
                condition=LIVE,
                name="doc_live_count",
            ),
            # "Documents supprimés" of a space, and the purge sweep across all spaces.
            models.Index(
                fields=["space", "-deleted_at", "-id"],
                condition=Q(deleted_at__isnull=False),
                name="doc_deleted",
            ),
            models.Index(
                fields=["deleted_at", "id"],
                condition=Q(deleted_at__isnull=False),
                name="doc_deleted_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="doc_size_positive"),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.title_key = sort_key(self.title)
        self.author_key = sort_key(self.author_name)
        super().save(*args, **kwargs)

    @property
    def inline(self) -> bool:
        """PDF, JPEG and PNG open in the browser; TIFF, RTF and text are downloaded."""
        return self.media_type in ("application/pdf", "image/jpeg", "image/png")


class DocumentSettings(models.Model):
    """A space's defaults for new documents."""

    space = models.OneToOneField("enrollment.Space", on_delete=models.CASCADE, related_name="+")
    hide_new_documents = models.BooleanField(
        "Masquer par défaut aux professionnels de santé les documents que j'ajoute",
        default=False,
    )

    def __str__(self):
        return f"DocumentSettings {self.space_id}"


class CareEvent(models.Model):
    """A reimbursement the insurer knows of ("historique des soins"), fed by `import_care`."""

    class Kind(models.TextChoices):
        MALADIE = "maladie", "Maladie"
        BIOLOGIE = "biologie", "Biologie"
        MEDICAMENTS = "médicaments", "Médicaments"
        SOINS = "soins médicaux et dentaires", "Soins médicaux et dentaires"
        HOSPITALISATION = "hospitalisation", "Hospitalisation"
        RADIOLOGIE = "radiologie", "Radiologie"
        DISPOSITIF = "dispositif médical", "Dispositif médical"
        VACCIN = "vaccin", "Vaccin"

    person = models.ForeignKey("registry.InsuredPerson", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    kind = models.CharField(max_length=30, choices=Kind.choices)
    label = models.CharField(max_length=200)
    professional_name = models.CharField(max_length=150, blank=True)
    amount_reimbursed = models.DecimalField(max_digits=10, decimal_places=2)
    hidden = models.BooleanField("Masqué aux professionnels de santé", default=False)
    imported_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The natural key: importing the same file twice changes nothing.
            models.UniqueConstraint(
                fields=["person", "date", "kind", "label", "professional_name"],
                name="care_event_natural_key",
            )
        ]
        indexes = [models.Index(fields=["person", "-date"], name="care_person_date")]

    def __str__(self):
        return f"{self.date} {self.kind}"

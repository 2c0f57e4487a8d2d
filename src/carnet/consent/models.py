"""What the patient decided about professionals: authorisations, blocks, the médecin traitant,
"administrateurs", the emergency switches, the emergency accesses, and the profession ×
category matrix (data, editable). The rules that read them live in `rules.decide`, only there.
"""

from django.db import models


class Action(models.TextChoices):
    DOCUMENT_LIST = "documents_liste", "Voir la liste des documents"
    DOCUMENT_READ = "document_lecture", "Lire un document"
    DOCUMENT_ADD = "document_ajout", "Ajouter un document"
    VACCINATIONS_READ = "vaccinations_lecture", "Lire les vaccinations"
    CIRCLE_READ = "entourage_lecture", "Lire « Entourage et volontés »"
    SYNTHESIS_READ = "synthese_lecture", "Lire la synthèse enregistrée"
    APPOINTMENT_ADD = "rendez_vous_ajout", "Ajouter un rendez-vous à l'agenda"
    EMERGENCY = "urgence", "Accès en urgence"


class Authorisation(models.Model):
    """A professional attested, at first access, that the patient consented."""

    space = models.ForeignKey("enrollment.Space", on_delete=models.CASCADE, related_name="+")
    professional = models.ForeignKey(
        "professionals.Professional", on_delete=models.CASCADE, related_name="+"
    )
    attested_at = models.DateTimeField()
    # "Administrateur": the patient lets this professional see hidden documents too.
    administrator = models.BooleanField(default=False)
    last_access_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "professional"], name="one_authorisation")
        ]

    def __str__(self):
        return f"Authorisation {self.space_id}/{self.professional_id}"


class Block(models.Model):
    """The patient blocked this professional: nothing is allowed to them."""

    space = models.ForeignKey("enrollment.Space", on_delete=models.CASCADE, related_name="+")
    professional = models.ForeignKey(
        "professionals.Professional", on_delete=models.CASCADE, related_name="+"
    )
    blocked_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["space", "professional"], name="one_block")]

    def __str__(self):
        return f"Block {self.space_id}/{self.professional_id}"


class TreatingDoctor(models.Model):
    """The médecin traitant: sees hidden documents, cannot be blocked (the patient changes it)."""

    space = models.OneToOneField("enrollment.Space", on_delete=models.CASCADE, related_name="+")
    professional = models.ForeignKey(
        "professionals.Professional", on_delete=models.CASCADE, related_name="+"
    )
    since = models.DateTimeField()

    def __str__(self):
        return f"TreatingDoctor {self.space_id}/{self.professional_id}"


class EmergencySettings(models.Model):
    """The three switches of the real service; without a row, the defaults below apply."""

    space = models.OneToOneField("enrollment.Space", on_delete=models.CASCADE, related_name="+")
    samu_allowed = models.BooleanField(
        "Les médecins régulateurs du SAMU peuvent accéder à mon profil en urgence", default=True
    )
    emergency_allowed = models.BooleanField(
        "Les autres professionnels de santé peuvent accéder à mon profil en urgence",
        default=True,
    )
    hidden_visible = models.BooleanField(
        "Mes documents masqués sont visibles en cas d'urgence", default=False
    )

    def __str__(self):
        return f"EmergencySettings {self.space_id}"


# The stated reason of an emergency access: long enough to mean something, short enough to read.
EMERGENCY_REASON_MIN = 10
EMERGENCY_REASON_MAX = 500


class EmergencyAccess(models.Model):
    """ "Bris de glace": a stated reason, read access until `expires_at`."""

    class Kind(models.TextChoices):
        SAMU = "samu", "Médecin régulateur du SAMU"
        OTHER = "urgence", "Autre professionnel en situation d'urgence"

    space = models.ForeignKey("enrollment.Space", on_delete=models.CASCADE, related_name="+")
    professional = models.ForeignKey(
        "professionals.Professional", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.CharField(max_length=EMERGENCY_REASON_MAX)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["space", "professional", "-expires_at"], name="emergency_live")
        ]

    def __str__(self):
        return f"EmergencyAccess {self.space_id}/{self.professional_id}"


class CategoryAccess(models.Model):
    """One cell of the profession × document-category matrix: may this profession read it?
    Loaded from `matrix.json` (versioned, with its source), editable by operators."""

    profession = models.CharField(max_length=30)
    category = models.CharField(max_length=12)
    allowed = models.BooleanField(default=False)
    updated_by = models.CharField(max_length=120, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profession", "category"], name="one_matrix_cell")
        ]

    def __str__(self):
        return f"{self.profession}×{self.category}={'oui' if self.allowed else 'non'}"

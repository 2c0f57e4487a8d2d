"""The catalogue of referenced apps and the OAuth 2.0 records (django-oauth-toolkit, ADR 0019).

Every OAuth model of django-oauth-toolkit is swapped for one of ours so that a grant and its
tokens point to the `Connection` they were issued under: the patient's consent to one app, for
one profile (a parent may connect an app for a child). Revoking the connection, or an operator
suspending the app, ends every token issued under it at once.
"""

import uuid

from django.conf import settings
from django.db import models
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractDeviceGrant,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
    ApplicationManager,
)


class App(AbstractApplication):
    """A catalogue entry: a referenced patient app, or a professional's software."""

    class Status(models.TextChoices):
        ONLINE = "en_ligne", "En ligne"
        OFFLINE = "hors_ligne", "Hors ligne"  # not offered to new connections; grants go on
        DEREFERENCED = "dereferencee", "Déréférencée"
        SUSPENDED = "suspendue", "Suspendue"

    class Category(models.TextChoices):
        APPOINTMENTS = "rendez_vous", "Prise de rendez-vous"
        CHRONIC = "maladie_chronique", "Suivi de maladie chronique"
        PREVENTION = "prevention", "Prévention"
        MEASURES = "mesures", "Mesures et objets connectés"
        WELLBEING = "bien_etre", "Bien-être"
        PRO_SOFTWARE = "logiciel_pro", "Logiciel de professionnel de santé"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    editor = models.CharField("Éditeur", max_length=100)
    description = models.TextField("Description", max_length=2000)
    category = models.CharField("Catégorie", max_length=20, choices=Category.choices)
    website = models.URLField("Site internet", blank=True)
    logo = models.BinaryField("Logo", blank=True, default=b"")  # PNG, checked at upload
    status = models.CharField(
        "Statut", max_length=15, choices=Status.choices, default=Status.OFFLINE
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The SMART scopes its agreement allows, space-separated: an app never gets more.
    allowed_scopes = models.TextField("Données autorisées", blank=True)
    # A professional's software (client credentials) acts for the professionals registered at
    # this establishment (FINESS), and only for them.
    finess = models.CharField("FINESS", max_length=9, blank=True)

    objects = ApplicationManager()

    class Meta(AbstractApplication.Meta):
        ordering = ["name"]

    @property
    def is_software(self) -> bool:
        return self.authorization_grant_type == self.GRANT_CLIENT_CREDENTIALS

    @property
    def serves(self) -> bool:
        """Whether its tokens are honoured: suspended or dereferenced apps lose access at once."""
        return self.status in (self.Status.ONLINE, self.Status.OFFLINE)

    def is_usable(self, request) -> bool:  # django-oauth-toolkit asks at issuance and each use
        return self.serves


class Connection(models.Model):
    """A person's consent to one app for one profile: the scopes granted and until when."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    space = models.ForeignKey("enrollment.Space", on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="connections")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    scope = models.TextField()
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_access_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=30, blank=True)
    # The last time the person was reminded of this connection (every 90 days).
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "app"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_open_connection_per_app",
            )
        ]

    def __str__(self):
        return f"{self.app} → {self.space_id}"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()


class Grant(AbstractGrant):
    """An authorization code; its `code` column holds the code's keyed hash, never the code."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, null=True)

    class Meta(AbstractGrant.Meta):
        pass


class AccessToken(AbstractAccessToken):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, null=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAccessToken.Meta):
        pass


class RefreshToken(AbstractRefreshToken):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, null=True)

    class Meta(AbstractRefreshToken.Meta):
        pass


class IDToken(AbstractIDToken):
    class Meta(AbstractIDToken.Meta):
        pass


class DeviceGrant(AbstractDeviceGrant):
    class Meta(AbstractDeviceGrant.Meta):
        pass

"""Accounts: one per person who logs in (usager, professionnel, opérateur)."""

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class UserManager(BaseUserManager):
    def create_user(self, identifier, password=None, **extra):
        user = self.model(identifier=identifier, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, identifier, password=None, **extra):
        extra.setdefault("kind", User.Kind.OPERATOR)
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(identifier, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    class Kind(models.TextChoices):
        PATIENT = "usager", "Usager"
        PROFESSIONAL = "professionnel", "Professionnel de santé"
        OPERATOR = "operateur", "Opérateur"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    identifier = models.CharField("identifiant", max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PATIENT)
    # PROTECT: an insured person is never deleted while an account points to them.
    person = models.OneToOneField(
        "registry.InsuredPerson",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="account",
    )
    email = models.EmailField("e-mail", blank=True)
    email_verified = models.BooleanField(default=False)
    mobile = models.CharField("mobile", max_length=16, blank=True)
    mobile_verified = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "identifier"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = "compte"
        ordering = ["id"]

    def __str__(self):
        return self.identifier

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.public_id}"


class OneTimeCode(models.Model):
    """A 6-digit code sent by email or SMS: login second factor, recovery, re-authentication,
    contact change. Stored only as a keyed hash; single use; bounded attempts."""

    class Purpose(models.TextChoices):
        LOGIN = "login", "Connexion"
        RESET = "reset", "Mot de passe oublié"
        REAUTH = "reauth", "Confirmation d'identité"
        CONTACT = "contact", "Changement de coordonnées"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS"

    # CASCADE: a code has no meaning without its account.
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_codes")
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    destination = models.CharField(max_length=254)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"], name="otc_user_created_idx")]

    def __str__(self):
        return f"Code {self.purpose} {self.pk}"


class SessionRecord(models.Model):
    """One logged-in session, so the person can list their devices and end any of them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="session_records")
    session_key = models.CharField(max_length=64, unique=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    user_agent = models.CharField(max_length=200, blank=True)
    client = models.CharField(max_length=64, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]

    def __str__(self):
        return f"Session {self.public_id}"


class NotificationPreference(models.Model):
    """Which events the person wants to hear about, and by which channel."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="preferences")
    new_document_email = models.BooleanField("Nouveau document — e-mail", default=True)
    new_document_sms = models.BooleanField("Nouveau document — SMS", default=False)
    new_message_email = models.BooleanField("Nouveau message — e-mail", default=True)
    new_message_sms = models.BooleanField("Nouveau message — SMS", default=False)
    appointment_email = models.BooleanField("Rendez-vous — e-mail", default=True)
    appointment_sms = models.BooleanField("Rendez-vous — SMS", default=False)
    prevention_email = models.BooleanField("Rappel de prévention — e-mail", default=True)
    prevention_sms = models.BooleanField("Rappel de prévention — SMS", default=False)

    def __str__(self):
        return f"Préférences {self.user_id}"


def account_of(actor) -> User | None:
    """The account behind an actor, for an `author` column: None for a connected app (the
    catalogue's apps act for the person without an account of their own)."""
    return actor if isinstance(actor, User) else None


class Passkey(models.Model):
    """A passkey (WebAuthn discoverable credential) that logs the account in on its own.

    Only the public key is kept: the private key never leaves the person's authenticator."""

    # CASCADE: a passkey has no meaning without its account.
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField("nom", max_length=60)
    credential_id = models.BinaryField(unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    aaguid = models.CharField(max_length=36, blank=True)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "clé d'accès"
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Clé d'accès {self.public_id}"

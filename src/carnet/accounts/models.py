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

"""Insured persons as the insurer knows them."""

import uuid

from django.db import models


class Sex(models.TextChoices):
    MALE = "M", "Homme"
    FEMALE = "F", "Femme"


class InsuredPerson(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    nir = models.CharField("NIR", max_length=15, unique=True)
    last_name = models.CharField("nom", max_length=100)
    first_name = models.CharField("prénom", max_length=100)
    birth_date = models.DateField("date de naissance")
    sex = models.CharField("sexe", max_length=1, choices=Sex.choices)
    vitale_serial = models.CharField("numéro de série Vitale", max_length=13)
    vitale_photo = models.BooleanField("carte avec photo", default=False)
    email = models.EmailField("e-mail", blank=True)
    mobile = models.CharField("mobile", max_length=16, blank=True)
    scheme = models.CharField("régime", max_length=40, blank=True)
    guardian_nirs = models.CharField("représentants légaux", max_length=200, blank=True)
    is_demo = models.BooleanField("donnée de démonstration", default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "assuré"
        ordering = ["id"]
        # An identity from FranceConnect+ is looked up by birth date and sex first.
        indexes = [models.Index(fields=["birth_date", "sex"], name="person_birth_sex_idx")]

    def __str__(self):
        return f"Assuré {self.public_id}"

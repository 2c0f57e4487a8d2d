"""Which account an identity of a provider (FranceConnect+, Pro Santé Connect) logs into."""

from django.conf import settings
from django.db import models


class FederatedIdentity(models.Model):
    """The provider's `sub` for one account: made once (after the password and a code for an
    existing patient account), then the provider alone logs the account in."""

    # CASCADE: the link has no meaning without its account.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="federated_identities"
    )
    provider = models.CharField(max_length=30)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "identité fédérée"
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="federation_sub_unique"),
            models.UniqueConstraint(fields=["provider", "user"], name="federation_user_unique"),
        ]

    def __str__(self):
        return f"{self.provider} {self.pk}"

"""The access trail: append-only events, hash-chained per space (DESIGN invariant 2)."""

from django.db import models


class AppendOnlyError(Exception):
    pass


class Event(models.Model):
    chain = models.CharField(max_length=64)  # the space's public id, or "service"
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    actor = models.CharField(max_length=120)  # "usager:<uuid>", "operateur:<id>", "systeme:tick"
    action = models.CharField(max_length=60)
    space_id = models.UUIDField(null=True, blank=True, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)  # ids and states, never health content
    client = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_event_chain_seq_unique")
        ]
        # "Mes activités" reads the events about an account, some of them outside its space.
        indexes = [models.Index(fields=["object_id"], name="audit_event_object_idx")]

    def __str__(self):
        return f"{self.chain}#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Les événements d'audit ne se modifient pas.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Les événements d'audit ne se suppriment pas.")


class ChainHead(models.Model):
    """Last sequence number and hash of each chain, so that a cut tail is detected too."""

    chain = models.CharField(max_length=64, primary_key=True)
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)

    def __str__(self):
        return f"{self.chain}@{self.seq}"

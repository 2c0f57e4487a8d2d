"""The access trail: append-only events, hash-chained per space (DESIGN invariant 2)."""

from django.db import models


class AppendOnlyError(Exception):
    pass


class EventQuerySet(models.QuerySet):
    """Bulk `update()` and `delete()` bypass the model's save/delete: refuse them too. Raw SQL
    is refused by a database trigger (migration 0004); `carnet audit verify` catches the rest."""

    def update(self, **kwargs):
        raise AppendOnlyError("Les événements d'audit ne se modifient pas.")

    def delete(self):
        raise AppendOnlyError("Les événements d'audit ne se suppriment pas.")

    delete.queryset_only = True  # as Django's: no Event.objects.delete()


class Event(models.Model):
    chain = models.CharField(max_length=64)  # the space's public id, or "service"
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    actor = models.CharField(max_length=120)  # "usager:<uuid>", "operateur:<id>", "systeme:tick"
    action = models.CharField(max_length=60)
    space_id = models.UUIDField(null=True, blank=True)  # indexed below, with the date
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)  # ids and states, never health content
    client = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_event_chain_seq_unique")
        ]
        indexes = [
            # "Mes activités" reads the events about an account, some of them outside its space.
            models.Index(fields=["object_id"], name="audit_event_object_idx"),
            # A space's history, newest first: filter(space_id=…).order_by("-at", "-id").
            models.Index(fields=["space_id", "at", "id"], name="audit_event_space_at_idx"),
            # The same narrowed to a kind of object ("Qui a consulté mes documents ?").
            models.Index(
                fields=["space_id", "object_type", "at", "id"], name="audit_event_space_type_idx"
            ),
        ]

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

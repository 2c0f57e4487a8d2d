"""Shared kernel tables: data keys (crypto-shredding), blobs, rate-limit counters."""

import uuid

from django.db import models


class DataKey(models.Model):
    """A per-space AES-256 key, stored only wrapped by a key-encryption key from CARNET_KEYS."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kek_id = models.CharField(max_length=50)
    wrapped = models.BinaryField(null=True)
    created_at = models.DateTimeField()
    destroyed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"DataKey {self.id}"


class Blob(models.Model):
    """An encrypted file in the blob store; the row exists only once the file is durable."""

    key = models.CharField(max_length=64, primary_key=True)
    # PROTECT: a data key goes away only after its blobs (purge deletes them first).
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="blobs")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    def __str__(self):
        return self.key


class RateCounter(models.Model):
    """Failures counted for one key (a hashed NIR, a client address) in a sliding window."""

    key = models.CharField(max_length=128, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.key}={self.count}"

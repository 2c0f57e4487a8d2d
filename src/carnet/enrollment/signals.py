"""Signals other apps listen to, so that enrollment never imports them."""

from django.dispatch import Signal

# Sent inside the purge transaction, before the blobs and the data key are destroyed:
# each app deletes its rows of the space (kwargs: space). A receiver that fails aborts the purge.
space_purging = Signal()

# Sent inside the transaction that makes spaces active (activation, reopening, automatic
# creation): kwargs space_ids (a list). Messaging sends its welcome message.
space_activated = Signal()

""" "Mes appareils et sessions" shows when each session was last used."""

from datetime import timedelta

from carnet.accounts.models import SessionRecord
from carnet.core import clock


def test_last_activity_is_recorded_at_most_once_a_minute(logged_in):
    client, _ = logged_in
    record = SessionRecord.objects.get(session_key=client.session.session_key)
    first_seen = record.last_seen_at
    with clock.travel(timedelta(minutes=5)):
        client.get("/documents/")
        record.refresh_from_db()
        later = record.last_seen_at
        assert later > first_seen
        client.get("/agenda/")  # within the minute: no write
        record.refresh_from_db()
        assert record.last_seen_at == later

"""Activation emails travel through a real SMTP server."""

import re

from carnet.enrollment import services
from carnet.notifications.models import OutboxMessage
from tests.factories import InsuredPersonFactory


def test_provisional_code_email_is_delivered_by_smtp(transactional_db, smtp_server):
    person = InsuredPersonFactory(email="alice@exemple.fr")
    [(_, code, _)] = services.codes_issue([person])
    assert len(smtp_server.messages) == 1
    delivered = smtp_server.messages[0]
    assert delivered["to"] == ["alice@exemple.fr"]
    assert code in delivered["data"]
    message = OutboxMessage.objects.get(to="alice@exemple.fr")
    assert message.status == OutboxMessage.Status.SENT
    assert message.body == ""  # the code does not linger once delivered
    assert not re.search(r"maladie|diagnostic|traitement", delivered["data"], re.I)

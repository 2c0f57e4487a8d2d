"""A real SMTP server's handler (aiosmtpd) that keeps what it receives: the tests' and the
scale drills' mail relay."""


class SmtpSink:
    """Keeps what it receives; `refuse_with` ("550 …", "451 …") answers DATA so instead, and
    `refuse_sender_with` MAIL FROM."""

    def __init__(self):
        self.messages = []
        self.refuse_with = None
        self.refuse_sender_with = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.refuse_sender_with:
            return self.refuse_sender_with
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        if self.refuse_with:
            return self.refuse_with
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 Message accepted for delivery"

"""Reads of the directory and of invitations."""

import functools
import re

from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice

from carnet.core import crypto

from .models import Invitation, Professional
from .services import INVITATION_PURPOSE, invitation_valid

# What secrets.token_urlsafe(32) makes: 43 characters of the URL-safe base64 alphabet.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@functools.cache
def _by_account_sql(vendor: str) -> str:
    """The ORM's own statement for `professional_of`, compiled once: it runs on every request
    of the portal, and compiling it cost ten times its execution (bench/consent.py)."""
    sql, _ = Professional.objects.filter(user_id=0).query.sql_with_params()
    return sql


_COLUMNS = [f.attname for f in Professional._meta.concrete_fields]


def professional_of(user) -> Professional | None:
    """The directory entry of a professional's account, or None (not linked)."""
    if user is None or not user.is_authenticated:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_by_account_sql(connection.vendor), [user.pk])
        row = cursor.fetchone()  # at most one: the account is a one-to-one link
    return None if row is None else Professional.from_db(connection.alias, _COLUMNS, row)


def invitation_by_token(token: str) -> Invitation | None:
    """The invitation of this link if it can still serve (unused, not revoked, not expired,
    professional not yet activated); None for any other link, whatever the reason."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    invitation = (
        Invitation.objects.select_related("professional", "pending_user")
        .filter(token_hash=crypto.keyed_hash(token, purpose=INVITATION_PURPOSE))
        .first()
    )
    if invitation is None or not invitation_valid(invitation):
        return None
    return invitation


def pending_device(invitation: Invitation) -> TOTPDevice | None:
    """The unconfirmed authenticator set up through this link, if any."""
    if invitation.pending_user_id is None:
        return None
    return TOTPDevice.objects.filter(user_id=invitation.pending_user_id, confirmed=False).first()


def patient_space(public_id):
    """The space of a patient page of the portal, with its person, whatever its state (access
    is decided by consent); None for an unknown id."""
    from carnet.enrollment.models import Space

    return Space.objects.select_related("person").filter(public_id=public_id).first()


def portal_document(space, public_id):
    """A live document of this space, withheld ones included, or None (consent decides whether
    it may be read)."""
    from carnet.documents.selectors import live_documents

    rows = live_documents(space, withheld=True).filter(public_id=public_id)
    # No ORDER BY (the id is unique): `.first()` would add one to compile and run each time.
    doc = next(iter(rows.select_related("blob")[:1]), None)
    if doc is not None:
        doc.space = space  # already read: its trail event needs no second query
    return doc


def emergency_kinds(professional) -> list[tuple[str, str]]:
    """The emergency situations this professional may state: SAMU regulation is for médecins."""
    from carnet.consent.models import EmergencyAccess

    kinds = EmergencyAccess.Kind
    if professional.profession == Professional.Profession.MEDECIN:
        return [(kinds.SAMU, kinds.SAMU.label), (kinds.OTHER, kinds.OTHER.label)]
    return [(kinds.OTHER, kinds.OTHER.label)]

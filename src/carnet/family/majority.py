"""Coming of age (issue 9): the space of a minor managed by legal representatives becomes the
young adult's own at 18.

`majority_sweep` (run by `carnet tick`) takes two steps per space, each once:

1. FAMILY_MAJORITY_NOTICE_BEFORE before the 18th birthday, every account linked to the space,
   and the young person when the registry has an email or a mobile for them, are told what will
   happen on that day: the representatives' management ends, the young person receives a
   provisional code to activate their own access, all data stays in the space.
2. On the birthday (or at the first sweep after it), in one transaction: every open link of the
   space ends (reason "majorite", each audited) but a protection measure (tutelle, curatelle)
   registered for the young adult; invitations still waiting are cancelled; the young adult
   receives a new provisional code (their space is active and has no login:
   `enrollment.services.identification_check` accepts it, as for an automatic creation), by
   email when the registry has one, else in a PDF batch of letters in LETTERS_DIR. Nothing of
   the space's data changes. The accounts whose link ended are told.

Born on 29 February, one is of age on 1 March in a year without it (`enrollment.services.
is_minor`). Each step is claimed by inserting its `MajorityNotice` (unique per space and kind)
with `ON CONFLICT DO NOTHING RETURNING`, first in the transaction of its effects: only what this
sweep inserted is done, so two sweeps at once, or one run again, do each step exactly once.

The sweep reads only spaces with an open legal representative's link, from that (small) table,
and of those only persons born on or before the last birth date of someone of age at the end of
the notice period: the minors whose birthday comes within the notice, and the young adults not
handled yet. No message carries health content (DESIGN invariant 7).
"""

import logging
import os
import secrets
from collections import defaultdict
from datetime import date, datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import formats

from carnet.accounts.models import User
from carnet.accounts.services import notify
from carnet.audit.services import Entry, events_record
from carnet.catalogue.services import connections_end_at_majority
from carnet.core import clock
from carnet.enrollment import letters
from carnet.enrollment import services as enrollment
from carnet.enrollment.models import ProvisionalCode, Space
from carnet.notifications.services import messages_queue, render_email, sms

from .models import Invitation, Link, MajorityNotice

log = logging.getLogger(__name__)

ACTOR = "systeme:majorite"
REASON = "majorite"  # the links' ended_reason, and the audit's "motif"
NOTICE_KIND = "majorite"  # the outbox kind of the notices (the code's is "code_provisoire")
CLAIM_CHUNK = 300  # notices per INSERT statement (3 parameters each)
# A tutelle or curatelle concerns an adult (`family.protection` refuses a minor) and has its own
# end: registered for the young adult, it goes on after the birthday. Every other link of the
# space (its representatives', a caregiver's) was given while a minor, and ends.
MEASURES = (Link.Kind.TUTELLE, Link.Kind.CURATELLE)


def adult_on(birth_date: date) -> date:
    """The day one born on `birth_date` is of age (as `enrollment.services.is_minor`)."""
    try:
        return birth_date.replace(year=birth_date.year + 18)
    except ValueError:  # born on 29 February: of age on 1 March
        return date(birth_date.year + 18, 3, 1)


def born_by(day: date) -> date:
    """The last birth date of someone of age on `day`: `birth_date <= born_by(day)` is
    `not is_minor(person, on=day)`, as a filter the database evaluates."""
    try:
        return day.replace(year=day.year - 18)
    except ValueError:  # `day` is 29 February, which that year had not: born on the 28th
        return day.replace(year=day.year - 18, day=28)


def _date_fr(day: date) -> str:
    return formats.date_format(day, "j F Y", use_l10n=True)


def majority_sweep(*, batch_size: int = 500) -> int:
    """Both steps for every space due, a batch of spaces at a time in id order. Returns the
    number of spaces handled (a step done); running it again does nothing more."""
    today = clock.today()
    of_age = born_by(today)
    window = born_by(today + settings.CARNET["FAMILY_MAJORITY_NOTICE_BEFORE"])
    spaces = (
        Link.objects.filter(
            kind=Link.Kind.LEGAL_REPRESENTATIVE,
            ended_at__isnull=True,
            space__state=Space.State.ACTIVE,
            space__person__birth_date__lte=window,
        )
        .order_by("space_id")
        .values_list("space_id", flat=True)
        .distinct()
    )
    handled, after = 0, 0
    while True:
        ids = list(spaces.filter(space_id__gt=after)[:batch_size])
        if not ids:
            return handled
        after = ids[-1]
        done = set(MajorityNotice.objects.filter(space_id__in=ids).values_list("space_id", "kind"))
        batch = Space.objects.filter(pk__in=ids).select_related("person").order_by("pk")
        birthdays, coming = [], []
        for space in batch:
            if space.person.birth_date <= of_age:
                if (space.pk, MajorityNotice.Kind.BIRTHDAY) not in done:
                    birthdays.append(space)
            elif (space.pk, MajorityNotice.Kind.MONTH_BEFORE) not in done:
                coming.append(space)
        if coming:
            handled += _notices_before(coming)
        if birthdays:
            handled += _birthdays(birthdays)


def _claim(space_ids: list[int], kind: str, now: datetime) -> set[int]:
    """Insert the step's notices, skipping those that exist (done before, or by a sweep
    running at the same time): the space ids actually inserted, hence to handle. Portable SQL
    (PostgreSQL, SQLite >= 3.35), as `agenda.prevention_services._claim`:
    bulk_create(ignore_conflicts=True) cannot say which rows it inserted."""
    table = connection.ops.quote_name(MajorityNotice._meta.db_table)
    done_at = connection.ops.adapt_datetimefield_value(now)
    claimed: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(space_ids), CLAIM_CHUNK):
            chunk = space_ids[start : start + CLAIM_CHUNK]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            # The table name is ours; every value is a parameter.
            cursor.execute(
                f"INSERT INTO {table} (space_id, kind, done_at) VALUES {values} "  # noqa: S608
                "ON CONFLICT (space_id, kind) DO NOTHING RETURNING space_id",
                [value for space_id in chunk for value in (space_id, kind, done_at)],
            )
            claimed.update(space_id for (space_id,) in cursor.fetchall())
    return claimed


def _open_links(space_ids, *, lock: bool = False) -> dict[int, list[Link]]:
    """The links that end at the majority: every open one but the protection measures."""
    links = Link.objects.filter(space_id__in=space_ids, ended_at__isnull=True).exclude(
        kind__in=MEASURES
    )
    if lock:
        links = links.select_for_update(of=("self",))  # not the accounts joined
    found = defaultdict(list)
    for link in links.select_related("user").order_by("pk"):
        found[link.space_id].append(link)
    return found


# --- Step 1: a month before ------------------------------------------------------------------


def _notices_before(spaces: list[Space]) -> int:
    url = settings.SERVICE_URL
    with transaction.atomic():
        claimed = _claim(
            [space.pk for space in spaces], MajorityNotice.Kind.MONTH_BEFORE, clock.now()
        )
        if not claimed:
            return 0
        links = _open_links(claimed)
        drafts = []
        for space in spaces:
            if space.pk not in claimed:
                continue
            person, day = space.person, adult_on(space.person.birth_date)
            for link in links.get(space.pk, ()):
                if link.user.is_active:
                    notify(
                        link.user,
                        "majorite_representant_avant",
                        kind=NOTICE_KIND,
                        sms_text=(
                            f"Carnet : {person.first_name} atteindra sa majorité le "
                            f"{_date_fr(day)}. Votre gestion de son espace santé prendra fin "
                            "ce jour-là."
                        ),
                        child=person,
                        adult_on=day,
                        url=url,
                    )
            context = {"person": person, "adult_on": day, "url": url}
            if person.email:
                drafts.append(
                    render_email("majorite_avant", context, to=person.email, kind=NOTICE_KIND)
                )
            elif person.mobile:
                drafts.append(
                    sms(
                        f"Carnet : le {_date_fr(day)}, à votre majorité, votre espace santé "
                        "deviendra le vôtre. Vous recevrez un code provisoire pour activer "
                        "votre accès.",
                        to=person.mobile,
                        kind=NOTICE_KIND,
                    )
                )
        messages_queue(drafts)
    return len(claimed)


# --- Step 2: the birthday --------------------------------------------------------------------


def _birthdays(spaces: list[Space]) -> int:
    """Claim, end the links, cancel the invitations, issue the codes, in one transaction whose
    letters PDF (for those without email) is written and synced before the commit: no code is
    issued without its letter, and no letter is kept for codes that were not."""
    path = None
    try:
        with transaction.atomic():
            now = clock.now()
            claimed = _claim([space.pk for space in spaces], MajorityNotice.Kind.BIRTHDAY, now)
            if not claimed:
                return 0
            mine = [space for space in spaces if space.pk in claimed]
            entries = _links_end(mine, now) + _invitations_cancel(mine, now)
            code_entries, letter_items = _codes_issue(mine, now)
            # The apps the representatives connected lose access: the young adult's consent
            # replaces theirs (they connect again the ones they want).
            entries += connections_end_at_majority(mine, now)
            events_record(entries + code_entries)
            if letter_items:
                path = _letters_write(letter_items)
    except BaseException:
        if path:
            os.unlink(path)  # its codes were never committed
        raise
    if path:
        log.info("majority letters written: %s (%s)", path, len(letter_items))
    return len(claimed)


def _links_end(spaces: list[Space], now: datetime) -> list[Entry]:
    """End the open links of the spaces but the protection measures (locked first: a
    representative leaving at the same moment is not ended twice); each linked account is
    told, without health content."""
    links = _open_links([space.pk for space in spaces], lock=True)
    ended = [link.pk for found in links.values() for link in found]
    Link.objects.filter(pk__in=ended, ended_at__isnull=True).update(
        ended_at=now, ended_reason=REASON
    )
    entries = []
    for space in spaces:
        person, day = space.person, adult_on(space.person.birth_date)
        for link in links.get(space.pk, ()):
            entries.append(
                Entry(
                    actor=ACTOR,
                    action="lien_termine",
                    space_id=space.public_id,
                    object_type="link",
                    object_id=str(link.public_id),
                    detail={"motif": REASON},
                    at=now,
                )
            )
            if link.user.is_active:
                notify(
                    link.user,
                    "majorite_representant_fin",
                    kind=NOTICE_KIND,
                    sms_text=(
                        f"Carnet : {person.first_name} a atteint sa majorité. Votre gestion de "
                        "son espace santé a pris fin."
                    ),
                    child=person,
                    adult_on=day,
                    url=settings.SERVICE_URL,
                )
    return entries


def _invitations_cancel(spaces: list[Space], now: datetime) -> list[Entry]:
    """An invitation to share the management, still waiting, can no longer be accepted."""
    by_pk = {space.pk: space for space in spaces}
    waiting = list(
        Invitation.objects.select_for_update()
        .filter(space_id__in=by_pk, answered_at__isnull=True, cancelled_at__isnull=True)
        .values_list("pk", "space_id", "public_id")
    )
    if not waiting:
        return []
    Invitation.objects.filter(pk__in=[pk for pk, _, _ in waiting]).update(cancelled_at=now)
    return [
        Entry(
            actor=ACTOR,
            action="invitation_annulee",
            space_id=by_pk[space_id].public_id,
            object_type="invitation",
            object_id=str(public_id),
            detail={"motif": REASON},
            at=now,
        )
        for _, space_id, public_id in waiting
    ]


def _codes_issue(spaces: list[Space], now: datetime) -> tuple[list[Entry], list[tuple]]:
    """A new provisional code for each young adult without a login, the older unused ones
    revoked (as `enrollment.services.code_reissue`); by email when the registry has one, else
    by letter. One who already has a login (they activated their space themselves while a
    minor) needs no code and is told by their account's channels. Returns the audit entries
    and the letters to write: (person, code, expires_at)."""
    persons = [space.person for space in spaces]
    logins = {user.person_id: user for user in User.objects.filter(person__in=persons)}
    fresh = [space for space in spaces if space.person_id not in logins]
    ProvisionalCode.objects.filter(
        person_id__in=[space.person_id for space in fresh],
        used_at__isnull=True,
        revoked_at__isnull=True,
    ).update(revoked_at=now)
    expires_at = now + settings.CARNET["CODE_VALIDITY"]
    url = settings.SERVICE_URL
    codes, drafts, entries, letter_items = [], [], [], []
    for space in fresh:
        person = space.person
        code, code_hash = enrollment._new_code()  # the same codes as everywhere (one scheme)
        channel = ProvisionalCode.Channel.EMAIL if person.email else ProvisionalCode.Channel.LETTER
        codes.append(
            ProvisionalCode(
                person=person,
                code_hash=code_hash,
                channel=channel,
                sent_at=now,
                expires_at=expires_at,
            )
        )
        if person.email:
            drafts.append(
                render_email(
                    "majorite_jeune_adulte",
                    {"person": person, "code": code, "deadline": expires_at, "url": url},
                    to=person.email,
                    kind="code_provisoire",
                )
            )
        else:
            letter_items.append((person, code, expires_at))
        entries.append(
            Entry(
                actor=ACTOR,
                action="code_provisoire_envoye",
                space_id=space.public_id,
                object_type="space",
                object_id=str(space.public_id),
                detail={"canal": channel, "motif": REASON},
                at=now,
            )
        )
    ProvisionalCode.objects.bulk_create(codes)
    messages_queue(drafts)
    for space in spaces:
        user = logins.get(space.person_id)
        if user is not None and user.is_active:
            notify(
                user,
                "majorite_jeune_adulte",
                kind=NOTICE_KIND,
                sms_text=(
                    "Carnet : à votre majorité, votre espace santé est devenu le vôtre. Vos "
                    "représentants légaux n'y ont plus accès."
                ),
                person=space.person,
                code=None,
                url=url,
            )
    return entries, letter_items


def _letters_write(items: list[tuple]) -> str:
    """One page per young adult (person, code, expires_at) for the postal mail house, in
    LETTERS_DIR next to the batches of `carnet send_codes`; written and synced to disk."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    layout = letters._Layout(pdf)
    for person, code, expires_at in items:
        letters._page(
            layout,
            f"{person.first_name} {person.last_name}",
            [
                f"Référence : {person.public_id}",
                "Votre espace numérique de santé a été créé lorsque vous étiez mineur(e) et "
                "géré jusqu'ici par vos représentants légaux. Depuis votre majorité, il est à "
                "vous : vos représentants légaux n'y ont plus accès, et toutes ses données "
                "sont conservées.",
                f"Votre code provisoire confidentiel : {code}",
                f"Avec ce code, valable jusqu'au {clock.localdate_fr(expires_at)}, activez "
                f"votre accès sur {settings.SERVICE_URL}/activer/ : vous choisirez votre "
                "identifiant et votre mot de passe. Vous pourrez ensuite décider qui peut "
                "accéder à votre espace, ou le fermer si vous le souhaitez.",
                "Ne communiquez ce code à personne : aucun agent ne vous le demandera.",
            ],
        )
    directory = settings.LETTERS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"majorite-{clock.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.pdf"
    data = bytes(pdf.output())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return str(path)

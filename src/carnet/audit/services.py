"""Writing and verifying the audit trail."""

import functools
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.db import IntegrityError, connection, transaction

from carnet.core import clock

from .models import ChainHead, Event

GENESIS = "0" * 64
SERVICE_CHAIN = "service"  # events about no space: operators, imports


@dataclass
class Entry:
    actor: str
    action: str
    space_id: UUID | None = None
    object_type: str = ""
    object_id: str = ""
    detail: dict = field(default_factory=dict)
    client: str = ""
    at: datetime | None = None


def _digest(chain: str, seq: int, e: Entry, at: datetime, prev_hash: str) -> str:
    payload = json.dumps(
        [
            chain,
            seq,
            at.isoformat(),
            e.actor,
            e.action,
            str(e.space_id or ""),
            e.object_type,
            e.object_id,
            e.detail,
            e.client,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _chain_of(entry: Entry) -> str:
    return str(entry.space_id) if entry.space_id else SERVICE_CHAIN


# Two writers opening the same chain both see no head; the second one's insert of the head
# fails (PostgreSQL makes it wait for the first to commit) and it starts again, now finding
# the head to lock. One retry is enough for one race; a few cover a burst.
RECORD_ATTEMPTS = 5


def events_record(entries: list[Entry]) -> list[Event]:
    """Append entries to their chains in one transaction: lock the heads of the chains (one
    query), insert the events (one query), insert the new heads and update the others (one
    query each, when there are any)."""
    if not entries:
        return []
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                if len(entries) == 1:  # one access, one event: the hot path
                    return [_append_one(entries[0])]
                return _append(entries)
        except IntegrityError:
            if attempt == RECORD_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _chained(entry: Entry, chain: str, seq: int, prev_hash: str) -> Event:
    """The event of `entry` at `seq` of its chain, its hash over the previous one."""
    at = entry.at or clock.now()
    return Event(
        chain=chain,
        seq=seq,
        at=at,
        actor=entry.actor,
        action=entry.action,
        space_id=entry.space_id,
        object_type=entry.object_type,
        object_id=entry.object_id,
        detail=entry.detail,
        client=entry.client,
        prev_hash=prev_hash,
        hash=_digest(chain, seq, entry, at, prev_hash),
    )


def _append(entries: list[Entry]) -> list[Event]:
    chains = sorted({_chain_of(e) for e in entries})
    heads = {
        h.chain: h
        for h in ChainHead.objects.select_for_update().filter(chain__in=chains).order_by("chain")
    }
    new_heads, events = [], []
    for entry in entries:
        chain = _chain_of(entry)
        head = heads.get(chain)
        if head is None:
            head = heads[chain] = ChainHead(chain=chain, seq=0, hash=GENESIS)
            new_heads.append(head)
        event = _chained(entry, chain, head.seq + 1, head.hash)
        events.append(event)
        head.seq, head.hash = event.seq, event.hash
    # The new heads first, in chain order: they are the lock a concurrent opener collides on
    # (IntegrityError, retried by the caller) before either has written an event.
    new_heads.sort(key=lambda h: h.chain)
    ChainHead.objects.bulk_create(new_heads)
    Event.objects.bulk_create(events)
    # By chain name: `h not in new_heads` compared model instances one by one, quadratic
    # in the number of new chains (a batch of provisional codes opens thousands).
    new_chains = {h.chain for h in new_heads}
    existing = [h for h in heads.values() if h.chain not in new_chains]
    if len(existing) == 1:
        # The common case (one access, one event): a plain UPDATE, not bulk_update's CASE.
        [head] = existing
        ChainHead.objects.filter(pk=head.pk).update(seq=head.seq, hash=head.hash)
    elif existing:
        ChainHead.objects.bulk_update(existing, ["seq", "hash"])
    return events


@functools.cache
def _one_statements(vendor: str) -> tuple[str, list, str, str, str]:
    """The three statements of `_append_one`, their names taken from the models. Written out
    rather than built by the ORM: compiling them cost several times their execution on every
    professional's request (bench/consent.py)."""
    quote = connection.ops.quote_name
    head = quote(ChainHead._meta.db_table)
    column = {f.name: quote(f.column) for f in ChainHead._meta.concrete_fields}
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    select = (
        f"SELECT {column['seq']}, {column['hash']} FROM {head} "  # noqa: S608 (names from the models)
        f"WHERE {column['chain']} = %s{lock}"
    )
    fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
    insert = (
        f"INSERT INTO {quote(Event._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    update = (
        f"UPDATE {head} SET {column['seq']} = %s, {column['hash']} = %s "  # noqa: S608
        f"WHERE {column['chain']} = %s"
    )
    open_head = (
        f"INSERT INTO {head} ({column['seq']}, {column['hash']}, {column['chain']}) "  # noqa: S608
        "VALUES (%s, %s, %s)"
    )
    return select, fields, insert, update, open_head


def _append_one(entry: Entry) -> Event:
    """`_append` for one entry, in three plain statements: lock the head, insert the event,
    move the head (or, for a new chain, look for the head, insert it, insert the event: the
    same order as `_append`). The returned event has no primary key (nobody reads it back)."""
    select, fields, insert, update, open_head = _one_statements(connection.vendor)
    chain = _chain_of(entry)
    with connection.cursor() as cursor:
        cursor.execute(select, [chain])
        row = cursor.fetchone()
        seq, prev_hash = (row[0] + 1, row[1]) if row is not None else (1, GENESIS)
        event = _chained(entry, chain, seq, prev_hash)
        values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
        if row is None:  # the new head first: a concurrent opener collides on it (and retries)
            cursor.execute(open_head, [seq, event.hash, chain])
        cursor.execute(insert, values)
        if row is not None:
            cursor.execute(update, [seq, event.hash, chain])
    return event


def event_record(**kwargs) -> Event:
    return events_record([Entry(**kwargs)])[0]


@dataclass
class Verification:
    """What `chains_verify` found: the problems in French, first found first."""

    problems: list[str]
    chains: int
    events: int


def chains_verify(chain: str | None = None) -> list[str]:
    """Recompute every chain (or only `chain`); returns the French description of each problem
    found, in chain then sequence order, naming the chain and the event's number."""
    return chains_check(chain).problems


def chains_check(chain: str | None = None) -> Verification:
    found: dict[str, list[str]] = defaultdict(list)  # by chain, in sequence order
    events = Event.objects.order_by("chain", "seq")
    heads_qs = ChainHead.objects.all()
    if chain is not None:
        events, heads_qs = events.filter(chain=chain), heads_qs.filter(chain=chain)
    heads = {h.chain: (h.seq, h.hash) for h in heads_qs}
    seen: dict[str, tuple[int, str]] = {}
    count = 0
    for ev in events.iterator(chunk_size=5000):
        count += 1
        prev_seq, prev_hash = seen.get(ev.chain, (0, GENESIS))
        if ev.seq != prev_seq + 1:
            found[ev.chain].append(
                f"Chaîne {ev.chain} : événement(s) manquant(s) avant le n° {ev.seq} "
                f"(n° {prev_seq + 1} attendu)."
            )
        if ev.prev_hash != prev_hash:
            found[ev.chain].append(
                f"Chaîne {ev.chain} : lien rompu au n° {ev.seq} (l'empreinte du précédent "
                "ne correspond pas)."
            )
        entry = Entry(
            ev.actor, ev.action, ev.space_id, ev.object_type, ev.object_id, ev.detail, ev.client
        )
        if _digest(ev.chain, ev.seq, entry, ev.at, ev.prev_hash) != ev.hash:
            found[ev.chain].append(
                f"Chaîne {ev.chain} : l'événement n° {ev.seq} a été modifié (empreinte "
                "recalculée différente)."
            )
        seen[ev.chain] = (ev.seq, ev.hash)
    for name, (head_seq, head_hash) in heads.items():
        last_seq, last_hash = seen.get(name, (0, GENESIS))
        if last_seq < head_seq:
            found[name].append(
                f"Chaîne {name} : des événements ont été supprimés en fin de chaîne (la tête "
                f"indique le n° {head_seq}, le dernier présent est le n° {last_seq})."
            )
        elif last_seq > head_seq:
            found[name].append(
                f"Chaîne {name} : des événements ont été ajoutés après la tête (n° {head_seq + 1}"
                f" à {last_seq})."
            )
        elif last_hash != head_hash:
            found[name].append(
                f"Chaîne {name} : la tête de chaîne ne correspond pas au dernier événement "
                f"(n° {last_seq})."
            )
    # Every chain is written with its head: a missing head would hide a cut tail.
    for name in seen.keys() - heads.keys():
        found[name].append(f"Chaîne {name} : la tête de chaîne a été supprimée.")
    problems = [p for name in sorted(found) for p in found[name]]
    return Verification(problems, chains=len(seen.keys() | heads.keys()), events=count)


def history_exported(*, user, space, tab: str, filters: dict, client: str = "") -> Event:
    """The patient downloaded their history as CSV: that too is in the trail."""
    detail = {"onglet": tab}
    detail.update({k: str(v) for k, v in filters.items() if v})
    return event_record(
        actor=user.actor,
        action="historique_exporte",
        space_id=space.public_id,
        detail=detail,
        client=client,
    )

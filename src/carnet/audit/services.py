"""Writing and verifying the audit trail."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.db import transaction

from carnet.core import clock

from .models import ChainHead, Event

GENESIS = "0" * 64


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
    return str(entry.space_id) if entry.space_id else "service"


def events_record(entries: list[Entry]) -> list[Event]:
    """Append entries to their chains in one transaction (bulk: one query per table)."""
    if not entries:
        return []
    with transaction.atomic():
        chains = sorted({_chain_of(e) for e in entries})
        heads = {
            h.chain: h
            for h in ChainHead.objects.select_for_update()
            .filter(chain__in=chains)
            .order_by("chain")
        }
        new_heads, events = [], []
        for entry in entries:
            chain = _chain_of(entry)
            head = heads.get(chain)
            if head is None:
                head = heads[chain] = ChainHead(chain=chain, seq=0, hash=GENESIS)
                new_heads.append(head)
            at = entry.at or clock.now()
            seq = head.seq + 1
            digest = _digest(chain, seq, entry, at, head.hash)
            events.append(
                Event(
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
                    prev_hash=head.hash,
                    hash=digest,
                )
            )
            head.seq, head.hash = seq, digest
        Event.objects.bulk_create(events)
        ChainHead.objects.bulk_create(new_heads)
        # By chain name: `h not in new_heads` compared model instances one by one, quadratic
        # in the number of new chains (a batch of provisional codes opens thousands).
        new_chains = {h.chain for h in new_heads}
        existing = [h for h in heads.values() if h.chain not in new_chains]
        if existing:
            ChainHead.objects.bulk_update(existing, ["seq", "hash"])
        return events


def event_record(**kwargs) -> Event:
    return events_record([Entry(**kwargs)])[0]


def chains_verify() -> list[str]:
    """Recompute every chain; returns the French description of each problem found."""
    problems = []
    heads = dict(ChainHead.objects.values_list("chain", "hash"))
    seen: dict[str, tuple[int, str]] = {}
    for ev in Event.objects.order_by("chain", "seq").iterator(chunk_size=5000):
        prev_seq, prev_hash = seen.get(ev.chain, (0, GENESIS))
        if ev.seq != prev_seq + 1:
            problems.append(f"Chaîne {ev.chain} : événement(s) manquant(s) avant le n° {ev.seq}.")
        if ev.prev_hash != prev_hash:
            problems.append(f"Chaîne {ev.chain} : lien rompu au n° {ev.seq}.")
        entry = Entry(
            ev.actor, ev.action, ev.space_id, ev.object_type, ev.object_id, ev.detail, ev.client
        )
        if _digest(ev.chain, ev.seq, entry, ev.at, ev.prev_hash) != ev.hash:
            problems.append(f"Chaîne {ev.chain} : l'événement n° {ev.seq} a été modifié.")
        seen[ev.chain] = (ev.seq, ev.hash)
    for chain, head_hash in heads.items():
        if seen.get(chain, (0, GENESIS))[1] != head_hash:
            problems.append(f"Chaîne {chain} : des événements ont été supprimés en fin de chaîne.")
    # Every chain is written with its head: a missing head would hide a cut tail.
    for chain in sorted(seen.keys() - heads.keys()):
        problems.append(f"Chaîne {chain} : la tête de chaîne a été supprimée.")
    return problems

"""Transactions that prove themselves: inclusion proofs against signed checkpoints (issue 14
item 4), for certificates and for a volunteer's downloadable history.

A proof bundle names the ledger (``log``: origin, the signed checkpoint text, the checkpoint
verifier key) and lists transactions, each with its canonical bytes (exactly what the ledger
hashes: the Merkle leaf is SHA-256(0x00 || canonical), RFC 9162), its leaf index and the
audit path to the checkpoint's root. Anyone holding the checkpoint public key checks it
offline: the checkpoint's signature, each leaf's path to the root, and that the amounts the
document states are the amounts in the canonical bytes (:func:`check_transaction`).

Issuing picks the first stored checkpoint that covers every transaction (so the same data
gives the same bytes) and makes one when none does (services.make_checkpoint: only the
transactions since the last one are read, their MACs checked). The audit paths come from the
Merkle tree kept next to the checkpoints (tree_store), or, when it cannot give them, from a
full audit; every path is checked against the signed root before it is given, and a ledger
that fails is certified by nothing (LedgerUnsound).

The history file (``vh-history/1``)::

    {"format": "vh-history/1", "generated_at": ISO-8601, "volunteer_number": str,
     "account": {"kind": "VOLUNTEER", "owner_id": str},
     "log": {"origin": str, "checkpoint": signed note, "verifier_key": "<name>+<hash>+<b64>"},
     "transactions": [{"id": int, "kind": str, "created_at": ISO-8601, "minutes": int (net for
        the account), "leaf_index": int, "canonical": str, "inclusion_proof": [base64]}],
     "balance_minutes": int}
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from volunteer_hub.timebank import merkle
from volunteer_hub.timebank.checkpoints import Checkpoint, CheckpointError, verify_checkpoint
from volunteer_hub.timebank.signing import LedgerKeyError, parse_verifier

HISTORY_FORMAT = "vh-history/1"


class ProofError(Exception):
    """A proof does not check (message for the person verifying)."""


# --- offline checks (no Flask, no database) ----------------------------------------------------

def check_log(log: dict, verifier_keys: list[str] | None = None) -> Checkpoint:
    """The checkpoint of a proof bundle, its signature checked with `verifier_keys` (default:
    the key the bundle names, itself covered by the certificate's signature)."""
    keys = verifier_keys or [log.get("verifier_key", "")]
    try:
        verifiers = [parse_verifier(key) for key in keys]
        checkpoint = verify_checkpoint(log["checkpoint"], verifiers)
    except (LedgerKeyError, CheckpointError, KeyError, TypeError) as error:
        raise ProofError(f"the checkpoint does not verify: {error}") from None
    if checkpoint.origin != log.get("origin"):
        raise ProofError("the checkpoint is of another ledger")
    return checkpoint


def check_transaction(entry: dict, checkpoint: Checkpoint) -> list:
    """The parsed canonical transaction, after checking its path to the checkpoint's root."""
    try:
        canonical = entry["canonical"].encode("utf-8")
        proof = [base64.b64decode(node, validate=True) for node in entry["inclusion_proof"]]
        index = int(entry["leaf_index"])
        parsed = json.loads(canonical)
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"transaction {entry.get('id')}: malformed proof ({error})") from None
    if not merkle.verify_inclusion(merkle.leaf_hash(canonical), index, checkpoint.size, proof,
                                   checkpoint.root):
        raise ProofError(f"transaction {entry.get('id')}: not in the signed ledger (its "
                         f"inclusion proof does not lead to the checkpoint's root)")
    if str(parsed[1]) != str(entry.get("id")):
        raise ProofError(f"transaction {entry.get('id')}: the proof is of transaction "
                         f"{parsed[1]}")
    return parsed


def kind_of(parsed: list) -> str:
    return parsed[2]


def record_of(parsed: list) -> int | None:
    """The service record a format-2 transaction names (format 1 names none)."""
    return parsed[8] if parsed[0] == 2 else None


def postings_of(parsed: list) -> list[tuple[str, str, int]]:
    """(account kind, owner id, minutes) of each posting, in either canonical format."""
    if parsed[0] == 2:
        return [(p[2], p[3], p[5]) for p in parsed[11]]
    return [(p[0], p[1], p[3]) for p in parsed[6]]


def issued_minutes(parsed: list) -> int:
    """The minutes a MINT (or REVERSAL) moved out of (back into) the issuance accounts."""
    return -sum(minutes for kind, _owner, minutes in postings_of(parsed) if kind == "ISSUANCE")


def account_minutes(parsed: list, kind: str, owner: str) -> int:
    return sum(minutes for k, o, minutes in postings_of(parsed) if (k, o) == (kind, owner))


def verify_history(document: dict, verifier_keys: list[str] | None = None) -> str:
    """Check a history file; returns a summary line, raises ProofError on the first fault."""
    if document.get("format") != HISTORY_FORMAT:
        raise ProofError("not a Volunteer Hub history file")
    checkpoint = check_log(document.get("log") or {}, verifier_keys)
    account = document.get("account") or {}
    kind, owner = account.get("kind"), str(account.get("owner_id"))
    total = 0
    for entry in document.get("transactions") or []:
        parsed = check_transaction(entry, checkpoint)
        minutes = account_minutes(parsed, kind, owner)
        if minutes != entry.get("minutes") or kind_of(parsed) != entry.get("kind"):
            raise ProofError(f"transaction {entry.get('id')}: the file says {entry.get('kind')} "
                             f"{entry.get('minutes')} minutes, the signed ledger "
                             f"{kind_of(parsed)} {minutes}")
        total += minutes
    if total != document.get("balance_minutes"):
        raise ProofError(f"the balance says {document.get('balance_minutes')} minutes, the "
                         f"transactions sum to {total}")
    return (f"VALID: {len(document.get('transactions') or [])} transactions of volunteer "
            f"{document.get('volunteer_number')}, balance {total} minutes, all in the ledger "
            f"{checkpoint.origin} as signed at size {checkpoint.size}")


# --- issuing (Flask app and database) ----------------------------------------------------------

class LedgerUnsound(Exception):
    """The ledger failed its audit: nothing is certified until it is repaired."""


class _StoreUnusable(Exception):
    """The on-disk tree cannot give these proofs: fall back to a full audit."""


@dataclass(frozen=True)
class Anchor:
    """A signed checkpoint and the audit path of each wanted transaction in it."""

    checkpoint: Checkpoint
    paths: dict[int, tuple[int, list[bytes]]]  # transaction id -> (leaf index, audit path)
    verifier_key: str


def leaf_indexes(transaction_ids: list[int]) -> dict[int, int]:
    """transaction id -> its leaf index (its position in chain order). Ids without a gap
    (the usual case) give it directly; otherwise the ids in range are counted."""
    from sqlalchemy import func, select

    from volunteer_hub.db import db
    from volunteer_hub.timebank.models import LedgerTransaction as Tx

    ids = sorted(set(transaction_ids))
    if not ids:
        return {}
    count = db.session.execute(select(func.count()).select_from(Tx)).scalar()  # COUNT(*)
    top = db.session.execute(select(func.max(Tx.id))).scalar()
    if count == top and ids[-1] <= top:
        return {tx_id: tx_id - 1 for tx_id in ids}
    base = db.session.execute(select(func.count(Tx.id)).where(Tx.id < ids[0])).scalar()
    in_range = db.session.execute(select(Tx.id).where(Tx.id.between(ids[0], ids[-1]))
                                  .order_by(Tx.id)).scalars()
    position = {tx_id: base + offset for offset, tx_id in enumerate(in_range)}
    return {tx_id: position[tx_id] for tx_id in ids if tx_id in position}


def _stored_covering(needed: int) -> Checkpoint | None:
    """The smallest stored checkpoint of this ledger, correctly signed, of size >= needed."""
    from volunteer_hub.timebank import checkpoints, signing

    verifiers = signing.checkpoint_verifiers()
    origin = signing.checkpoint_signer().name
    for path in checkpoints.stored_paths():
        try:
            size = int(path.name.split("-", 1)[0])
        except ValueError:
            continue
        if size < needed:
            continue
        try:
            checkpoint = verify_checkpoint(path.read_text(encoding="utf-8"), verifiers)
        except CheckpointError:
            continue
        if checkpoint.origin == origin and checkpoint.size >= needed:
            return checkpoint
    return None


def covering_checkpoint(transaction_ids: list[int]) -> Checkpoint | None:
    """The first stored checkpoint that includes every transaction (none is made). Cheap
    enough for the public page: counts and a signature check; that the ledger extends each
    checkpoint is the audit's job."""
    indexes = leaf_indexes(transaction_ids)
    if not indexes or len(indexes) < len(set(transaction_ids)):
        return None
    return _stored_covering(max(indexes.values()) + 1)


def _from_store(transaction_ids: list[int]) -> tuple[Checkpoint, dict]:
    """Paths read from the on-disk tree next to the checkpoints (about 2 log2 n nodes each);
    a checkpoint is made (hashing only the transactions since the last) when none covers."""
    from volunteer_hub.timebank import checkpoints, services, tree_store

    indexes = leaf_indexes(transaction_ids)
    if len(indexes) < len(set(transaction_ids)):
        raise LedgerUnsound("a certified transaction is missing from the ledger")
    checkpoint = _stored_covering(max(indexes.values(), default=-1) + 1)
    if checkpoint is None:
        try:
            checkpoint, _witnesses = services.make_checkpoint()
        except services.CheckpointRefused as refused:
            raise LedgerUnsound(str(refused)) from None
    folder = checkpoints.directory() / "tree"
    with tree_store.locked(folder):
        tree = tree_store.FileTree(folder)
        try:
            if tree.size < checkpoint.size:
                raise _StoreUnusable()
            paths = {tx_id: (index, tree.inclusion_proof(index, checkpoint.size))
                     for tx_id, index in indexes.items()}
        except (ValueError, OSError):
            raise _StoreUnusable() from None
        finally:
            tree.close()
    return checkpoint, paths


def _from_audit(transaction_ids: list[int]) -> tuple[Checkpoint, dict]:
    """Paths from a full audit (the whole ledger verified and hashed), checkpointing it when
    no trusted checkpoint covers the transactions."""
    from volunteer_hub.timebank import services

    audit = services.audit_ledger()
    if not audit.report.ok:
        raise LedgerUnsound(", ".join(breach.code for breach in audit.report.breaches[:5]))
    index_of = {tx_id: index for index, tx_id in enumerate(audit.ids)}
    if any(tx_id not in index_of for tx_id in transaction_ids):
        raise LedgerUnsound("a certified transaction is missing from the ledger")
    needed = max((index_of[tx_id] for tx_id in transaction_ids), default=-1) + 1
    covering = sorted((cp for cp in audit.checkpoints if needed <= cp.size <= audit.tree.size),
                      key=lambda cp: (cp.size, cp.text))
    checkpoint = covering[0] if covering else services.make_checkpoint(audit=audit)[0]
    return checkpoint, {tx_id: (index_of[tx_id], audit.tree.inclusion_proof(
        index_of[tx_id], checkpoint.size)) for tx_id in transaction_ids}


def prove(transaction_ids: list[int]) -> tuple[dict, dict[int, dict]]:
    """(log block, {tx id: proof entry}) for the transactions, every path checked against
    the signed root before it is given: from the on-disk tree, else from a full audit."""
    from volunteer_hub.timebank import signing

    canonical = canonical_texts(transaction_ids)
    verifier = signing.checkpoint_signer().verifier.encoded
    for source in (_from_store, _from_audit):
        try:
            checkpoint, paths = source(transaction_ids)
        except _StoreUnusable:
            continue
        entries = _checked_entries(canonical, checkpoint, paths)
        if entries is not None:
            return log_block(Anchor(checkpoint, paths, verifier)), entries
    raise LedgerUnsound("the ledger's transactions do not hash to the signed checkpoint")


def _checked_entries(canonical: dict[int, bytes], checkpoint: Checkpoint,
                     paths: dict) -> dict[int, dict] | None:
    entries = {}
    for tx_id, data in canonical.items():
        index, path = paths[tx_id]
        if not merkle.verify_inclusion(merkle.leaf_hash(data), index, checkpoint.size, path,
                                       checkpoint.root):
            return None
        entries[tx_id] = {"id": tx_id, "leaf_index": index, "canonical": data.decode("utf-8"),
                          "inclusion_proof": [base64.b64encode(node).decode() for node in path]}
    return entries


def log_block(anchor: Anchor) -> dict:
    return {"origin": anchor.checkpoint.origin, "checkpoint": anchor.checkpoint.text,
            "verifier_key": anchor.verifier_key}


def canonical_texts(transaction_ids: list[int]) -> dict[int, bytes]:
    """The canonical bytes the ledger hashes for each transaction (format 1 or 2)."""
    from sqlalchemy import select, text

    from volunteer_hub.db import db
    from volunteer_hub.timebank import ledger, services
    from volunteer_hub.timebank.models import Account, Posting

    ids = sorted(set(transaction_ids))
    if not ids:
        return {}
    listed = ",".join(str(int(tx_id)) for tx_id in ids)
    every_row = services._transactions_sql()
    if not every_row.endswith(" ORDER BY id"):  # the audit's own columns and formatting
        raise RuntimeError("services._transactions_sql() changed shape")
    rows = db.session.execute(text(
        every_row.removesuffix(" ORDER BY id") + f" WHERE id IN ({listed}) ORDER BY id")).all()
    postings: dict[int, list] = {tx_id: [] for tx_id in ids}
    for tx_id, posting_id, account_id, minutes, group, kind, owner in db.session.execute(
            select(Posting.transaction_id, Posting.id, Posting.account_id, Posting.minutes,
                   Posting.earned_as_group, Account.kind, Account.owner_id)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.transaction_id.in_(ids))):
        postings[tx_id].append((posting_id, account_id, kind, owner, bool(group), minutes))
    result = {}
    for row in rows:
        (tx_id, kind, created, key, reverses_id, _prev, _hash, version, request_hash,
         provenance, record_id, service_volunteer_id, created_by_id) = tuple(row)[:13]
        reverses = str(reverses_id) if reverses_id is not None else None
        items = postings[tx_id]
        if version == 2:
            result[tx_id] = ledger.canonical_bytes_v2_of(
                str(tx_id), kind, created, key, reverses, request_hash, provenance, record_id,
                service_volunteer_id, created_by_id, list(items))
        else:
            result[tx_id] = ledger.canonical_bytes_of(
                str(tx_id), kind, created, key, reverses,
                [(k, o, g, m) for _p, _a, k, o, g, m in items])
    return result


def history_document(volunteer) -> dict:
    """Every transaction on the volunteer's account with its proof (vh-history/1)."""
    from datetime import UTC, datetime

    from volunteer_hub.db import db
    from volunteer_hub.timebank import services

    rows = db.session.execute(services.history_query(volunteer)).scalars().unique().all()
    entries = sorted(services.history_entries(volunteer, rows),
                     key=lambda entry: entry.transaction.id)
    ids = [entry.transaction.id for entry in entries]
    log, proofs = prove(ids)
    transactions = []
    for entry in entries:
        tx = entry.transaction
        transactions.append({"id": tx.id, "kind": tx.kind,
                             "created_at": tx.created_at.astimezone(UTC).isoformat(),
                             "minutes": entry.minutes, **_without_id(proofs[tx.id])})
    return {"format": HISTORY_FORMAT,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "volunteer_number": volunteer.volunteer_number,
            "account": {"kind": "VOLUNTEER", "owner_id": str(volunteer.id)},
            "log": log, "transactions": transactions,
            "balance_minutes": sum(entry.minutes for entry in entries)}


def _without_id(entry: dict) -> dict:
    return {key: value for key, value in entry.items() if key != "id"}

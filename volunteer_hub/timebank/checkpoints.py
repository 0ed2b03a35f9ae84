"""Signed ledger checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes.

A checkpoint commits to the Merkle tree (RFC 9162, :mod:`merkle`) over the transactions'
canonical bytes in chain order::

    <origin>
    <tree size>
    <base64 root hash>
    time <UTC instant, RFC 3339>          (extension line)

    — <key name> <base64(4-byte key hash || Ed25519 signature of the body)>

The signature covers the body up to and including its last newline (c2sp.org/signed-note,
golang.org/x/mod/sumdb/note), so Go's note.Open or any C2SP tool reads it. The store is a
directory outside the database (LEDGER_CHECKPOINT_DIR, default instance/ledger-checkpoints/):
one file per checkpoint, never rewritten, so a copy kept anywhere else can be compared.
"""
from __future__ import annotations

import base64
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from volunteer_hub.timebank.signing import NoteSigner, NoteVerifier

log = logging.getLogger(__name__)

EM_DASH = "\u2014"
TIME_EXTENSION = "time "
MAX_SIGNATURES = 100
DIRECTORY = "ledger-checkpoints"
SUFFIX = ".checkpoint"


class CheckpointError(ValueError):
    """Malformed, unsigned or wrongly signed checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: datetime | None
    extensions: tuple[str, ...]
    text: str  # the whole signed note, as stored and published

    @property
    def body(self) -> str:
        return self.text.split("\n\n", 1)[0] + "\n"


# --- format ----------------------------------------------------------------------------------

def checkpoint_body(origin: str, size: int, root: bytes, time: datetime | None = None,
                    extensions: Sequence[str] = ()) -> str:
    if not origin or "\n" in origin or size < 0 or len(root) != 32:
        raise CheckpointError("a checkpoint needs an origin line, a size >= 0 and a 32-byte root")
    lines = [origin, str(size), base64.b64encode(root).decode()]
    if time is not None:
        lines.append(TIME_EXTENSION + time.astimezone(UTC).isoformat(timespec="seconds")
                     .replace("+00:00", "Z"))
    lines.extend(extensions)
    if any(not line or "\n" in line for line in lines[3:]):
        raise CheckpointError("extension lines are non-empty single lines")
    return "\n".join(lines) + "\n"


def sign_note(body: str, signers: Iterable[NoteSigner]) -> str:
    """The signed note: body, a blank line, one signature line per signer."""
    if not body.endswith("\n") or "\n\n" in body:
        raise CheckpointError("a note body ends with a newline and has no blank line")
    lines = []
    for signer in signers:
        signature = signer.key_hash + signer.sign(body.encode("utf-8"))
        lines.append(f"{EM_DASH} {signer.name} {base64.b64encode(signature).decode()}\n")
    return body + "\n" + "".join(lines)


def open_note(text: str, verifiers: Iterable[NoteVerifier]) -> tuple[str, list[str]]:
    """(body, names of the verifiers whose signature is valid); raises when none is."""
    body, signatures = _split_note(text)
    known = {(v.name, v.key_hash): v for v in verifiers}
    valid = []
    for name, key_hash, signature in signatures:
        verifier = known.get((name, key_hash))
        if verifier is None:
            continue
        if not verifier.verify(body.encode("utf-8"), signature):
            raise CheckpointError(f"the signature of {name} is invalid")
        valid.append(name)
    if not valid:
        raise CheckpointError("not signed by a trusted key")
    return body, valid


def _split_note(text: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    if "\n\n" not in text or not text.endswith("\n"):
        raise CheckpointError("not a signed note")
    body, signature_block = text.split("\n\n", 1)
    body += "\n"
    signatures = []
    for line in signature_block[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH:
            raise CheckpointError("malformed signature line")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except ValueError:
            raise CheckpointError("signature is not base64") from None
        if len(raw) < 5:
            raise CheckpointError("signature too short")
        signatures.append((parts[1], raw[:4], raw[4:]))
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise CheckpointError("a note has 1 to 100 signatures")
    return body, signatures


def make_checkpoint(signer: NoteSigner, size: int, root: bytes,
                    time: datetime | None = None, extensions: Sequence[str] = ()) -> str:
    """A signed checkpoint of the log named by the signer (origin = key name)."""
    return sign_note(checkpoint_body(signer.name, size, root, time, extensions), [signer])


def parse_checkpoint(text: str) -> Checkpoint:
    """The fields of a checkpoint, without checking its signature (see verify_checkpoint)."""
    body, _ = _split_note(text)
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise CheckpointError("a checkpoint body has an origin, a size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError("the tree size is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        raise CheckpointError("the root hash is not base64") from None
    if len(root) != 32:
        raise CheckpointError("the root hash is not 32 bytes")
    extensions = tuple(lines[3:])
    return Checkpoint(origin, int(size_text), root, _time_of(extensions), extensions, text)


def verify_checkpoint(text: str, verifiers: Iterable[NoteVerifier]) -> Checkpoint:
    """The checkpoint if a trusted key of its own origin signed it; else CheckpointError."""
    verifiers = list(verifiers)
    checkpoint = parse_checkpoint(text)
    _, names = open_note(text, verifiers)
    if checkpoint.origin not in names:
        raise CheckpointError(f"not signed by the log {checkpoint.origin} itself")
    return checkpoint


def _time_of(extensions: Sequence[str]) -> datetime | None:
    for line in extensions:
        if line.startswith(TIME_EXTENSION):
            try:
                return datetime.fromisoformat(line[len(TIME_EXTENSION):].replace("Z", "+00:00"))
            except ValueError:
                return None
    return None


# --- the store -------------------------------------------------------------------------------

def directory(app=None) -> Path:
    app = _app(app)
    configured = app.config.get("LEDGER_CHECKPOINT_DIR")
    return Path(configured) if configured else Path(app.instance_path) / DIRECTORY


def store(app, checkpoint: Checkpoint) -> Path:
    """Append a checkpoint to the store (a new file; existing ones are never rewritten)."""
    folder = directory(app)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (checkpoint.time or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Another process (the nightly job, a certificate) may store at the same moment: each
    # writes its own temporary file and links it under a name only if none is there yet.
    descriptor, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(checkpoint.text)
        counter = 0
        while True:
            path = folder / (f"{checkpoint.size:012d}-{stamp}"
                             f"{f'-{counter}' if counter else ''}{SUFFIX}")
            try:
                os.link(temporary, path)
                return path
            except FileExistsError:
                if path.read_text(encoding="utf-8") == checkpoint.text:
                    return path
            counter += 1
    finally:
        os.unlink(temporary)


def stored_paths(app=None) -> list[Path]:
    folder = directory(app)
    return sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


def stored(app=None) -> list[Checkpoint]:
    """Every stored checkpoint (parsed, not verified), smallest tree first."""
    return [parse_checkpoint(path.read_text(encoding="utf-8")) for path in stored_paths(app)]


def latest(app=None) -> Checkpoint | None:
    """The newest stored checkpoint whose signature verifies, or None."""
    from volunteer_hub.timebank.signing import checkpoint_verifiers

    app = _app(app)
    verifiers = checkpoint_verifiers(app)
    for path in reversed(stored_paths(app)):
        try:
            return verify_checkpoint(path.read_text(encoding="utf-8"), verifiers)
        except CheckpointError:
            log.error("stored checkpoint %s does not verify", path.name)
    return None


def summary(checkpoint: Checkpoint) -> dict:
    """What reports and pages show of a checkpoint."""
    return {"origin": checkpoint.origin, "size": checkpoint.size,
            "root": base64.b64encode(checkpoint.root).decode(), "time": checkpoint.time,
            "text": checkpoint.text}


# --- witnesses -------------------------------------------------------------------------------

def send_to_witnesses(app, checkpoint: Checkpoint) -> dict[str, str]:
    """POST the signed checkpoint (text/plain; charset=utf-8) to each LEDGER_WITNESS_URLS.

    Returns url -> "ok" or the error; a witness that is down never blocks the checkpoint
    (it is stored first), the failure is logged."""
    results = {}
    timeout = float(app.config.get("LEDGER_WITNESS_TIMEOUT_SECONDS", 5.0))
    for url in app.config.get("LEDGER_WITNESS_URLS") or ():
        request = urllib.request.Request(
            url, data=checkpoint.text.encode("utf-8"), method="POST",
            headers={"Content-Type": "text/plain; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            results[url] = "ok"
        except (urllib.error.URLError, OSError, ValueError) as error:
            log.warning("checkpoint witness %s: %s", url, error)
            results[url] = str(error)
    return results


def _app(app):
    if app is not None:
        return app
    from flask import current_app

    return current_app._get_current_object()


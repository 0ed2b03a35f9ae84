"""Ledger keys the database never holds: the transaction MAC key ring and the checkpoint key.

* MAC keys (HMAC-SHA256): ``LEDGER_MAC_KEYS`` / ``LEDGER_MAC_CURRENT_KEY``, else
  ``instance/ledger-keys.json`` generated once. New rows use the current key and store its
  id; old ids stay in the ring so the rows they signed keep verifying (rotation: add a key,
  make it current, never delete one while rows name it).
* Checkpoint key (Ed25519) in the golang.org/x/mod/sumdb/note encodings: signer
  ``PRIVATE+KEY+<name>+<key hash>+<base64(0x01 || seed)>``, verifier
  ``<name>+<key hash>+<base64(0x01 || public key)>``, key hash = first 4 bytes of
  SHA-256(name || "\\n" || 0x01 || public key). The name is the log's origin.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEYS_FILE = "ledger-keys.json"
ALG_ED25519 = 1
MAC_CONTEXT = b"volunteer-hub ledger transaction v1\n"


class LedgerKeyError(Exception):
    """A ledger key is missing or malformed."""


# --- transaction MACs ------------------------------------------------------------------------

class MacKeyRing:
    """HMAC-SHA256 keys by id; ``current`` signs new rows."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        self.keys, self.current = keys, current
        # the audit checks a MAC per row: the padded-key states are hashed once per key
        self._states = {key_id: _hmac_states(key) for key_id, key in keys.items()}

    def sign(self, position: int, chain_hash: str) -> tuple[str, str]:
        """(key id, hex MAC) of the row at chain ``position`` (0-based) with this chain hash."""
        return self.current, self._mac(self._states[self.current], position, chain_hash)

    def check(self, key_id: str | None, mac: str | None, position: int, chain_hash: str) -> bool:
        states = self._states.get(key_id) if key_id is not None else None
        if states is None or mac is None:
            return False
        return hmac.compare_digest(self._mac(states, position, chain_hash), mac)

    @staticmethod
    def _mac(states, position: int, chain_hash: str) -> str:
        inner, outer = states[0].copy(), states[1].copy()
        inner.update(_mac_message(position, chain_hash))
        outer.update(inner.digest())
        return outer.hexdigest()


def _hmac_states(key: bytes):
    """SHA-256 states after the HMAC ipad and opad blocks (RFC 2104), for keys <= 64 bytes."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in key)),
            hashlib.sha256(bytes(b ^ 0x5C for b in key)))


def _mac_message(position: int, chain_hash: str) -> bytes:
    return b"%s%d\n%s" % (MAC_CONTEXT, position, chain_hash.encode("ascii"))


def transaction_mac(key: bytes, position: int, chain_hash: str) -> str:
    """HMAC-SHA256 over the row's chain position and chain hash. The chain hash covers the
    canonical bytes of the transaction and of every earlier one; the position makes a copy
    of a row anywhere else fail."""
    return hmac.digest(key, _mac_message(position, chain_hash), "sha256").hex()


def mac_key_ring(app=None) -> MacKeyRing:
    app = _app(app)
    cached = app.extensions.get("ledger_mac_keys")
    if cached is not None:
        return cached
    configured = app.config.get("LEDGER_MAC_KEYS") or {}
    if configured:
        keys = {key_id: base64.b64decode(value) for key_id, value in configured.items()}
        current = app.config.get("LEDGER_MAC_CURRENT_KEY") or sorted(keys)[-1]
    else:
        stored = _stored_keys(app)
        keys = {key_id: base64.b64decode(value) for key_id, value in stored["mac_keys"].items()}
        current = stored["mac_current"]
    if current not in keys:
        raise LedgerKeyError(f"LEDGER_MAC_CURRENT_KEY {current!r} is not in the key ring")
    ring = MacKeyRing(keys, current)
    app.extensions["ledger_mac_keys"] = ring
    return ring


def rotate_mac_key(app=None) -> str:
    """Add a new MAC key to instance/ledger-keys.json and make it current; returns its id."""
    app = _app(app)
    if app.config.get("LEDGER_MAC_KEYS"):
        raise LedgerKeyError("LEDGER_MAC_KEYS is configured: add the new key there instead")
    stored = _stored_keys(app)
    key_id = f"mac-{len(stored['mac_keys']) + 1}"
    stored["mac_keys"][key_id] = _new_mac_key()
    stored["mac_current"] = key_id
    _write_keys(_keys_path(app), stored)
    app.extensions.pop("ledger_mac_keys", None)
    return key_id


# --- checkpoint key (C2SP signed-note Ed25519) -------------------------------------------------

@dataclass(frozen=True)
class NoteVerifier:
    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @property
    def encoded(self) -> str:
        raw = self.public_key.public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
        return (f"{self.name}+{self.key_hash.hex()}+"
                f"{base64.b64encode(bytes([ALG_ED25519]) + raw).decode()}")


@dataclass(frozen=True)
class NoteSigner:
    name: str
    key_hash: bytes
    private_key: Ed25519PrivateKey

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key_hash, self.private_key.public_key())

    @property
    def encoded(self) -> str:
        seed = self.private_key.private_bytes(serialization.Encoding.Raw,
                                              serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())
        return (f"PRIVATE+KEY+{self.name}+{self.key_hash.hex()}+"
                f"{base64.b64encode(bytes([ALG_ED25519]) + seed).decode()}")


def note_key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _valid_name(name: str) -> bool:
    return bool(name) and not any(c.isspace() or c == "+" for c in name)


def parse_signer(encoded: str) -> NoteSigner:
    parts = encoded.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _valid_name(parts[2]):
        raise LedgerKeyError("malformed note signer key")
    name, key_hash_hex, material = parts[2], parts[3], _b64(parts[4])
    if len(material) != 33 or material[0] != ALG_ED25519:
        raise LedgerKeyError("note signer key is not an Ed25519 key")
    private_key = Ed25519PrivateKey.from_private_bytes(material[1:])
    raw_public = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)
    key_hash = note_key_hash(name, raw_public)
    if key_hash.hex() != key_hash_hex.lower() or len(key_hash_hex) != 8:
        raise LedgerKeyError("note signer key hash does not match its key")
    return NoteSigner(name, key_hash, private_key)


def parse_verifier(encoded: str) -> NoteVerifier:
    parts = encoded.strip().split("+", 2)
    if len(parts) != 3 or not _valid_name(parts[0]):
        raise LedgerKeyError("malformed note verifier key")
    name, key_hash_hex, material = parts[0], parts[1], _b64(parts[2])
    if len(material) != 33 or material[0] != ALG_ED25519:
        raise LedgerKeyError("note verifier key is not an Ed25519 key")
    key_hash = note_key_hash(name, material[1:])
    if key_hash.hex() != key_hash_hex.lower() or len(key_hash_hex) != 8:
        raise LedgerKeyError("note verifier key hash does not match its key")
    return NoteVerifier(name, key_hash, Ed25519PublicKey.from_public_bytes(material[1:]))


def new_signer(name: str) -> NoteSigner:
    if not _valid_name(name):
        raise LedgerKeyError("a note key name has no spaces and no '+'")
    private_key = Ed25519PrivateKey.generate()
    raw_public = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)
    return NoteSigner(name, note_key_hash(name, raw_public), private_key)


def checkpoint_signer(app=None) -> NoteSigner:
    """LEDGER_CHECKPOINT_SIGNING_KEY, else the one generated once in instance/ledger-keys.json."""
    app = _app(app)
    cached = app.extensions.get("ledger_checkpoint_signer")
    if cached is None:
        encoded = app.config.get("LEDGER_CHECKPOINT_SIGNING_KEY") or \
            _stored_keys(app)["checkpoint_signer"]
        cached = app.extensions["ledger_checkpoint_signer"] = parse_signer(encoded)
    return cached


def checkpoint_verifiers(app=None) -> list[NoteVerifier]:
    """The deployment's own public key and LEDGER_CHECKPOINT_VERIFIER_KEYS (old or rotated)."""
    app = _app(app)
    verifiers = [checkpoint_signer(app).verifier]
    verifiers += [parse_verifier(v) for v in app.config.get("LEDGER_CHECKPOINT_VERIFIER_KEYS", ())]
    return verifiers


# --- the instance key file -------------------------------------------------------------------

def _app(app):
    if app is not None:
        return app
    from flask import current_app

    return current_app._get_current_object()


def _keys_path(app) -> Path:
    return Path(app.instance_path) / KEYS_FILE


def _new_mac_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _stored_keys(app) -> dict:
    """instance/ledger-keys.json, created on first use (exclusively: two workers starting at
    once must not each write their own key)."""
    path = _keys_path(app)
    if not path.exists():
        origin = f"volunteer-hub.ledger/{secrets.token_hex(6)}"
        initial = {"mac_keys": {"mac-1": _new_mac_key()}, "mac_current": "mac-1",
                   "checkpoint_signer": new_signer(origin).encoded}
        try:
            _write_keys(path, initial, exclusive=True)
        except FileExistsError:
            pass
    return json.loads(path.read_text())


def _write_keys(path: Path, content: dict, *, exclusive: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(content, indent=2).encode()
    if exclusive:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        return
    # A fresh file of our own (mkstemp: 0600, never an older file's looser mode) renamed over.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".ledger-keys-")
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as error:
        raise LedgerKeyError("key material is not base64") from error

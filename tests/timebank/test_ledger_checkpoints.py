"""C2SP signed notes and tlog checkpoints: the golang.org/x/mod/sumdb/note reference vector,
round trips, and what a verifier must refuse."""
from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from volunteer_hub.timebank import checkpoints, merkle, signing

# golang.org/x/mod/sumdb/note (note.go documentation and note_test.go)
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def test_signing_reproduces_the_go_reference_note_byte_for_byte():
    signer = signing.parse_signer(GO_SIGNER)
    assert signer.key_hash.hex() == "c74f20a3"
    assert signer.encoded == GO_SIGNER
    assert signer.verifier.encoded == GO_VERIFIER
    assert checkpoints.sign_note(GO_TEXT, [signer]) == GO_NOTE


def test_the_go_reference_note_opens_with_its_public_key_only():
    verifier = signing.parse_verifier(GO_VERIFIER)
    body, names = checkpoints.open_note(GO_NOTE, [verifier])
    assert (body, names) == (GO_TEXT, ["PeterNeumann"])
    altered = GO_NOTE.replace("cryptography", "Cryptography")
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.open_note(altered, [verifier])
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.open_note(GO_NOTE, [signing.new_signer("PeterNeumann").verifier])


@pytest.mark.parametrize("mangled", [GO_VERIFIER[:-2], GO_VERIFIER.replace("c74f20a3", "c74f20a4"),
                                     "Peter Neumann+c74f20a3+" + GO_VERIFIER.split("+", 2)[2]])
def test_malformed_verifier_keys_are_refused(mangled):
    with pytest.raises(signing.LedgerKeyError):
        signing.parse_verifier(mangled)


def test_checkpoint_round_trip_and_format():
    signer = signing.new_signer("volunteer-hub.ledger/test")
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(5)]
    root = merkle.root(leaves)
    when = datetime(2026, 12, 5, 2, 30, tzinfo=UTC)
    text = checkpoints.make_checkpoint(signer, 5, root, when)
    body, signature = text.split("\n\n")
    assert body.split("\n") == ["volunteer-hub.ledger/test", "5",
                                base64.b64encode(root).decode(), "time 2026-12-05T02:30:00Z"]
    assert signature.startswith("\u2014 volunteer-hub.ledger/test ")
    assert base64.b64decode(signature.split(" ")[2])[:4] == signer.key_hash
    checkpoint = checkpoints.verify_checkpoint(text, [signer.verifier])
    assert (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.time) == \
        ("volunteer-hub.ledger/test", 5, root, when)


def test_a_checkpoint_with_another_size_or_origin_or_key_is_refused():
    signer = signing.new_signer("log.example/a")
    text = checkpoints.make_checkpoint(signer, 5, merkle.EMPTY_ROOT)
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.verify_checkpoint(text.replace("\n5\n", "\n6\n", 1), [signer.verifier])
    other = signing.new_signer("log.example/b")
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.verify_checkpoint(text, [other.verifier])
    # signed by a trusted key, but not by the log the body names
    body = checkpoints.checkpoint_body("log.example/a", 5, merkle.EMPTY_ROOT)
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.verify_checkpoint(checkpoints.sign_note(body, [other]),
                                      [signer.verifier, other.verifier])
    for broken in ("", "no blank line\n", text.replace("\u2014", "-")):
        with pytest.raises(checkpoints.CheckpointError):
            checkpoints.verify_checkpoint(broken, [signer.verifier])


def test_the_key_ring_computes_rfc_2104_hmac_sha256():
    import hashlib
    import hmac

    for key in (b"k" * 32, b"short", b"x" * 100):
        ring = signing.MacKeyRing({"a": key}, "a")
        chain_hash = hashlib.sha256(key).hexdigest()
        expected = hmac.new(key, b"volunteer-hub ledger transaction v1\n7\n" + chain_hash.encode(),
                            "sha256").hexdigest()
        assert ring.sign(7, chain_hash) == ("a", expected)
        assert signing.transaction_mac(key, 7, chain_hash) == expected
        assert ring.check("a", expected, 7, chain_hash)
        assert not ring.check("a", expected, 8, chain_hash)
        assert not ring.check("b", expected, 7, chain_hash)


def test_two_writers_storing_the_same_checkpoint_at_once_both_succeed(app, tmp_path,
                                                                        monkeypatch):
    # the nightly job and a certificate's checkpoint in the same second over the same ledger
    import threading

    monkeypatch.setitem(app.config, "LEDGER_CHECKPOINT_DIR", str(tmp_path))
    signer = signing.new_signer("example.org/ledger")
    when = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    errors: list[BaseException] = []

    def store(checkpoint, barrier):
        barrier.wait()
        try:
            checkpoints.store(app, checkpoint)
        except BaseException as error:  # noqa: BLE001  (reported by the assertion)
            errors.append(error)

    for size in range(1, 41):
        text = checkpoints.make_checkpoint(signer, size, merkle.leaf_hash(b"%d" % size), when)
        checkpoint = checkpoints.parse_checkpoint(text)
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=store, args=(checkpoint, barrier)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(checkpoints.stored_paths(app)) == 40
    assert not list(tmp_path.glob("*.tmp"))

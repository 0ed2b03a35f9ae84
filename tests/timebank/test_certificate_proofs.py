"""Certificates and histories that prove themselves (issue 14 item 4): inclusion proofs of the
MINT transactions against a signed checkpoint, checked offline by `certificate verify`."""
from __future__ import annotations

import base64
import copy
import json

import pytest

from tests.timebank.test_certificates import _embedded, _pdf, _run_verify, earned  # noqa: F401
from tests.web.helpers import login
from volunteer_hub.timebank import certificates, checkpoints, signing


@pytest.fixture
def keys(client, tmp_path):
    certificate_key = tmp_path / "certificate-key.pem"
    certificate_key.write_bytes(client.get("/certificates/public-key.pem").data)
    ledger_key = tmp_path / "ledger-key.txt"
    ledger_key.write_bytes(client.get("/certificates/ledger-key.txt").data)
    return ["--public-key", str(certificate_key), "--ledger-key", str(ledger_key)]


def _resigned(app, content: dict) -> bytes:
    """A certificate with `content` signed by the deployment's own key: what a forger with
    the certificate key but not the ledger could make."""
    canonical = certificates.canonical_json(content)
    signature = certificates.signing_key(app).sign(canonical)
    return certificates.render_pdf(content, canonical, signature)


def test_certificate_carries_proofs_that_verify_offline(app, client, earned, auth_header,
                                                        keys, tmp_path):
    volunteer = earned["volunteer"]
    assert checkpoints.stored_paths(app) == []
    pdf = _pdf(client, auth_header, volunteer.user, volunteer)
    stored = checkpoints.stored_paths(app)
    assert len(stored) == 1  # none covered the MINTs: one was made at issue time
    content = _embedded(pdf)
    proofs = content["proofs"]
    assert proofs["log"]["checkpoint"] == stored[0].read_text(encoding="utf-8")
    assert [entry["id"] for entry in proofs["transactions"]] == [
        line["transaction_id"] for line in content["service"]["records"]]
    assert all(entry["inclusion_proof"] for entry in proofs["transactions"])
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    result = _run_verify(app, path, *keys)
    assert result.exit_code == 0, result.output
    assert "2 ledger transactions proven" in result.output
    # the next download reuses the checkpoint: same bytes, no new checkpoint
    assert _pdf(client, auth_header, volunteer.user, volunteer) == pdf
    assert len(checkpoints.stored_paths(app)) == 1


@pytest.mark.parametrize("tamper", ["proof", "minutes", "leaf_index", "dropped"])
def test_a_wrong_proof_fails_even_with_a_valid_signature(app, client, earned, auth_header,
                                                         keys, tmp_path, tamper):
    volunteer = earned["volunteer"]
    content = copy.deepcopy(_embedded(_pdf(client, auth_header, volunteer.user, volunteer)))
    entry = content["proofs"]["transactions"][0]
    if tamper == "proof":
        node = bytearray(base64.b64decode(entry["inclusion_proof"][0]))
        node[0] ^= 1
        entry["inclusion_proof"][0] = base64.b64encode(bytes(node)).decode()
    elif tamper == "minutes":  # the printed line and the total say more than the ledger
        content["service"]["records"][0]["minutes"] += 60
        content["service"]["total_minutes"] += 60
    elif tamper == "leaf_index":
        entry["leaf_index"] = content["proofs"]["transactions"][1]["leaf_index"]
    else:
        content["proofs"]["transactions"].pop()
    path = tmp_path / "forged.pdf"
    path.write_bytes(_resigned(app, content))
    result = _run_verify(app, path, *keys)
    assert result.exit_code == 1, result.output
    assert "INVALID" in result.output


def test_a_checkpoint_of_another_ledger_fails(app, client, earned, auth_header, keys,
                                              tmp_path):
    volunteer = earned["volunteer"]
    content = _embedded(_pdf(client, auth_header, volunteer.user, volunteer))
    other = signing.new_signer(signing.checkpoint_signer(app).name)
    # the same tree size and root, signed by a key that is not the ledger's
    good = checkpoints.parse_checkpoint(content["proofs"]["log"]["checkpoint"])
    content["proofs"]["log"]["checkpoint"] = checkpoints.make_checkpoint(
        other, good.size, good.root, good.time)
    content["proofs"]["log"]["verifier_key"] = other.verifier.encoded
    path = tmp_path / "other-ledger.pdf"
    path.write_bytes(_resigned(app, content))
    result = _run_verify(app, path, *keys)  # with the real ledger key: refused
    assert result.exit_code == 1 and "checkpoint does not verify" in result.output


def test_history_file_with_proofs(app, client, db, tree, earned, auth_header, keys,
                                  tmp_path):
    volunteer = earned["volunteer"]
    login(client, volunteer.user)
    assert "data-history-download" in client.get("/me/hours").get_data(as_text=True)
    response = client.get("/me/hours/history.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = json.loads(response.data)
    assert document["format"] == "vh-history/1"
    assert [t["minutes"] for t in document["transactions"]] == [180, 90]
    assert document["balance_minutes"] == 270
    api = client.get(f"/api/v1/volunteers/{volunteer.id}/ledger/proofs",
                     headers=auth_header(volunteer.user))
    assert json.loads(api.data)["transactions"] == document["transactions"]
    good = tmp_path / "history.json"
    good.write_bytes(response.data)
    result = _run_verify(app, good, *keys[2:])
    assert result.exit_code == 0, result.output
    assert "2 transactions" in result.output and "270 minutes" in result.output

    edited = copy.deepcopy(document)  # an edited amount, balance adjusted to match
    edited["transactions"][0]["minutes"] = 1800
    edited["balance_minutes"] = 1890
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(edited))
    result = _run_verify(app, bad, *keys[2:])
    assert result.exit_code == 1 and "INVALID" in result.output

    rewritten = copy.deepcopy(document)  # the canonical bytes edited too: the proof fails
    entry = rewritten["transactions"][0]
    entry["canonical"] = entry["canonical"].replace(",180]", ",1800]").replace(",-180]",
                                                                                ",-1800]")
    assert entry["canonical"] != document["transactions"][0]["canonical"]
    bad.write_text(json.dumps(rewritten))
    result = _run_verify(app, bad, *keys[2:])
    assert result.exit_code == 1 and "not in the signed ledger" in result.output


def test_public_page_shows_the_proof_and_the_latest_checkpoint(app, client, earned,
                                                               auth_header):
    volunteer = earned["volunteer"]
    number = _embedded(_pdf(client, auth_header, volunteer.user, volunteer))["number"]
    html = client.get(f"/certificates/{number}").get_data(as_text=True)
    assert 'data-proven="true"' in html and "data-latest-checkpoint=" in html
    key = client.get("/certificates/ledger-key.txt").get_data(as_text=True).strip()
    assert signing.parse_verifier(key) == signing.checkpoint_signer(app).verifier


def test_someone_elses_history_is_not_found(client, tree, earned, make_volunteer, auth_header):
    other = make_volunteer(tree["b"])
    volunteer = earned["volunteer"]
    response = client.get(f"/api/v1/volunteers/{volunteer.id}/ledger/proofs",
                          headers=auth_header(other.user))
    assert response.status_code == 404


def test_a_damaged_tree_store_never_gives_a_wrong_proof(app, client, earned, auth_header,
                                                        keys, tmp_path):
    """The on-disk tree is not trusted: paths that do not lead to the signed root are
    replaced by ones from a full audit."""
    volunteer = earned["volunteer"]
    _pdf(client, auth_header, volunteer.user, volunteer)  # makes the checkpoint and the store
    leaves = checkpoints.directory(app) / "tree" / "level-00.bin"
    assert leaves.stat().st_size > 0
    leaves.write_bytes(b"\0" * leaves.stat().st_size)
    response = client.get(f"/api/v1/volunteers/{volunteer.id}/ledger/proofs",
                          headers=auth_header(volunteer.user))
    assert response.status_code == 200
    history = tmp_path / "history.json"
    history.write_bytes(response.data)
    result = _run_verify(app, history, *keys[2:])
    assert result.exit_code == 0, result.output


def test_new_hours_are_certified_without_a_full_audit(app, db, tree, client, earned,
                                                      auth_header, keys, tmp_path, monkeypatch):
    """Once a checkpoint and its tree store exist, a certificate for hours recorded since
    makes an incremental checkpoint (only the new transactions hashed): it never waits for
    an audit of the whole ledger."""
    from datetime import timedelta

    from tests.records import builders
    from tests.timebank.test_certificates import _earn
    from volunteer_hub.timebank import services

    volunteer = earned["volunteer"]
    _pdf(client, auth_header, volunteer.user, volunteer)  # the first checkpoint and the store
    _earn(db, tree, earned["organizer"], volunteer, 60, name="助老送餐",
          start=builders.START + timedelta(days=2))

    def no_full_audit(*args, **kwargs):
        raise AssertionError("a certificate waited for a full audit of the ledger")

    monkeypatch.setattr(services, "audit_ledger", no_full_audit)
    pdf = _pdf(client, auth_header, volunteer.user, volunteer)
    assert len(checkpoints.stored_paths(app)) == 2  # a new one covers the new MINT
    assert len(_embedded(pdf)["proofs"]["transactions"]) == 3
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    result = _run_verify(app, path, *keys)
    assert result.exit_code == 0, result.output


def test_a_history_resigned_with_another_key_fails_without_a_ledger_key(app, client, earned,
                                                                       auth_header, tmp_path):
    """A history file carries no signature of its own: the checkpoint key it names cannot
    vouch for it. A forger who edits an amount, rebuilds the tree and signs a checkpoint with
    their own key under the same origin must fail also when no --ledger-key is given (the
    deployment's key is the default, as for a PDF's certificate key)."""
    from volunteer_hub.timebank import merkle

    volunteer = earned["volunteer"]
    document = json.loads(client.get(f"/api/v1/volunteers/{volunteer.id}/ledger/proofs",
                                     headers=auth_header(volunteer.user)).data)
    forged = copy.deepcopy(document)
    entry = forged["transactions"][0]
    entry["canonical"] = entry["canonical"].replace(",180]", ",1800]").replace(",-180]",
                                                                                ",-1800]")
    entry["minutes"] = 1800
    forged["balance_minutes"] = sum(t["minutes"] for t in forged["transactions"])
    leaves = [merkle.leaf_hash(t["canonical"].encode()) for t in forged["transactions"]]
    tree = merkle.MerkleTree(leaves)
    for index, transaction in enumerate(forged["transactions"]):
        transaction["leaf_index"] = index
        transaction["inclusion_proof"] = [base64.b64encode(node).decode()
                                          for node in tree.inclusion_proof(index)]
    forger = signing.new_signer(document["log"]["origin"])
    forged["log"]["checkpoint"] = checkpoints.make_checkpoint(forger, len(leaves), tree.root())
    forged["log"]["verifier_key"] = forger.verifier.encoded
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    result = _run_verify(app, path)
    assert result.exit_code == 1 and "INVALID" in result.output, result.output

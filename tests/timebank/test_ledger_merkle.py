"""RFC 9162 Merkle tree: published Certificate Transparency vectors and the recursive
definitions of the RFC as the reference for every size, index and consistency pair."""
from __future__ import annotations

import hashlib

import pytest

from volunteer_hub.timebank import merkle

CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PROOF_LEAF0_SIZE8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]


def _mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return merkle.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return _path(m, leaves[:k]) + [_mth(leaves[k:])]
    return _path(m - k, leaves[k:]) + [_mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [_mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [_mth(leaves[:k])]


@pytest.fixture(scope="module")
def ct_leaf_hashes() -> list[bytes]:
    return [merkle.leaf_hash(data) for data in CT_LEAVES]


def test_roots_match_the_certificate_transparency_vectors(ct_leaf_hashes):
    tree = merkle.MerkleTree(ct_leaf_hashes)
    for size, expected in enumerate(CT_ROOTS):
        assert merkle.root(ct_leaf_hashes[:size]).hex() == expected
        assert tree.root(size).hex() == expected


def test_inclusion_proof_matches_the_vector(ct_leaf_hashes):
    proof = merkle.inclusion_proof(ct_leaf_hashes, 0, 8)
    assert [p.hex() for p in proof] == CT_PROOF_LEAF0_SIZE8
    assert merkle.verify_inclusion(ct_leaf_hashes[0], 0, 8, proof, bytes.fromhex(CT_ROOTS[8]))


def test_every_proof_equals_the_rfc_definition_and_verifies():
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(37)]
    tree = merkle.MerkleTree(leaves)
    for size in range(1, len(leaves) + 1):
        root = tree.root(size)
        assert root == _mth(leaves[:size])
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == _path(index, leaves[:size])
            assert merkle.verify_inclusion(leaves[index], index, size, proof, root)
            assert not merkle.verify_inclusion(merkle.leaf_hash(b"x"), index, size, proof, root)
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            assert proof == (_subproof(old, leaves[:size], True) if old < size else [])
            assert merkle.verify_consistency(old, size, tree.root(old), root, proof)


def test_a_changed_leaf_or_proof_or_size_fails():
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(11)]
    tree = merkle.MerkleTree(leaves)
    root = tree.root()
    proof = tree.inclusion_proof(6)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), 6, 11, proof, root)
    assert not merkle.verify_inclusion(leaves[10], 10, 12, tree.inclusion_proof(10), root)
    assert not merkle.verify_inclusion(leaves[6], 5, 11, proof, root)
    bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1])] + proof[1:]
    assert not merkle.verify_inclusion(leaves[6], 6, 11, bent, root)
    assert not merkle.verify_inclusion(leaves[6], 11, 11, proof, root)

    consistency = tree.consistency_proof(7)
    assert merkle.verify_consistency(7, 11, tree.root(7), root, consistency)
    other = merkle.MerkleTree(leaves[:6] + [merkle.leaf_hash(b"rewritten")] + leaves[7:])
    assert not merkle.verify_consistency(7, 11, other.root(7), root, consistency)
    assert not merkle.verify_consistency(7, 11, tree.root(7), other.root(), consistency)
    assert not merkle.verify_consistency(7, 11, tree.root(7), root, consistency[:-1])
    assert not merkle.verify_consistency(7, 11, tree.root(7), root, [])
    assert not merkle.verify_consistency(11, 7, root, tree.root(7), consistency)


def test_appending_gives_the_same_tree_as_building_at_once():
    leaves = [merkle.leaf_hash(i.to_bytes(3, "big")) for i in range(100)]
    grown = merkle.MerkleTree(leaves[:1])
    for cut in (5, 8, 33, 64, 65, 100):
        grown.append(leaves[grown.size:cut])
        assert grown.root() == merkle.MerkleTree(leaves[:cut]).root()
        assert grown.inclusion_proof(cut - 1) == _path(cut - 1, leaves[:cut])

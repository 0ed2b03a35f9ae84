"""Merkle tree hashing, inclusion and consistency proofs as in RFC 9162 section 2.1.

Standard library only. Leaves are hashed ``SHA-256(0x00 || data)``, interior nodes
``SHA-256(0x01 || left || right)``; the tree over ``n`` leaves splits at the largest power
of two below ``n``, so every left subtree is complete. That is what lets
:class:`MerkleTree` answer any proof from cached complete subtrees in O(log n) hashes.

The module-level functions take the list of leaf hashes; for large trees build a
:class:`MerkleTree` once (one pass of ~n hashes) and ask it for roots and proofs of any
prefix size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Complete-subtree cache over a list of leaf hashes.

    ``levels[h][i]`` is the root of the complete subtree of ``2**h`` leaves starting at
    leaf ``i * 2**h``. Roots and proofs for any tree size up to :attr:`size` are then
    assembled from at most ``2 * log2(n)`` cached nodes."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        self._build_from(0)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf_hashes: Sequence[bytes]) -> None:
        """Add leaves at the end (hashes only the new complete subtrees)."""
        start = self.size
        self.levels[0].extend(leaf_hashes)
        self._build_from(start)

    def _build_from(self, start: int) -> None:
        height = 0
        while len(self.levels[height]) >= 2:
            below = self.levels[height]
            if height + 1 == len(self.levels):
                self.levels.append([])
            above = self.levels[height + 1]
            first_pair = min(start // 2, len(above))
            del above[first_pair:]
            sha = _sha256
            pairs = iter(below[2 * first_pair:len(below) & ~1])
            above.extend([sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs)])
            start = first_pair
            height += 1

    def subtree_root(self, start: int, size: int) -> bytes:
        """MTH of leaves [start, start + size); ``start`` must be a multiple of the
        largest power of two <= size, as every subtree of the RFC 9162 split is."""
        if size == 0:
            return EMPTY_ROOT
        height = size.bit_length() - 1
        if size == 1 << height:
            return self.complete_node(height, start >> height)
        k = 1 << height
        return node_hash(self.subtree_root(start, k), self.subtree_root(start + k, size - k))

    def complete_node(self, height: int, index: int) -> bytes:
        """Root of the complete subtree of 2**height leaves from leaf index * 2**height."""
        return self.levels[height][index]

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return self.subtree_root(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 2.1.3.1, leaf first."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        proof: list[bytes] = []
        start = 0
        while size > 1:
            k = _largest_power_of_two_below(size)
            if index - start < k:
                proof.append(self.subtree_root(start + k, size - k))
                size = k
            else:
                proof.append(self.subtree_root(start, k))
                start += k
                size -= k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 9162 2.1.4.1."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"cannot prove {old_size} -> {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        start, size, complete = 0, new_size, True
        m = old_size
        while m != size:
            k = _largest_power_of_two_below(size)
            if m <= k:
                proof.append(self.subtree_root(start + k, size - k))
                size = k
            else:
                proof.append(self.subtree_root(start, k))
                start += k
                m -= k
                size -= k
                complete = False
        if not complete:
            proof.append(self.subtree_root(start, size))
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree has {self.size} leaves, not {size}")


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    return MerkleTree(leaf_hashes).root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    return MerkleTree(leaf_hashes[:size]).inclusion_proof(index, size)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    return MerkleTree(leaf_hashes[:new_size]).consistency_proof(old_size, new_size)


def root_from_inclusion_proof(leaf: bytes, index: int, size: int,
                              proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2 steps 1-5: the root the proof leads to, or None if malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root_hash: bytes) -> bool:
    return root_from_inclusion_proof(leaf, index, size, proof) == root_hash


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2, plus the trivial cases (equal sizes, empty old tree)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0

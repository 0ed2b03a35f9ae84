"""The on-disk Merkle tree gives the roots and proofs of the in-memory one, grown in steps."""
from __future__ import annotations

from volunteer_hub.timebank import merkle
from volunteer_hub.timebank.tree_store import FileTree


def test_file_tree_grown_in_steps_equals_the_memory_tree(tmp_path):
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(70)]
    memory = merkle.MerkleTree(leaves)
    grown = 0
    for cut in (1, 2, 3, 8, 9, 31, 32, 33, 70):
        tree = FileTree(tmp_path)
        assert tree.size == grown
        tree.append_leaves(leaves[grown:cut], head_hash=f"h{cut}", last_id=cut)
        tree.close()
        grown = cut
        tree = FileTree(tmp_path)
        assert (tree.size, tree.head_hash, tree.last_id) == (cut, f"h{cut}", cut)
        assert tree.root() == memory.root(cut)
        for index in (0, cut // 2, cut - 1):
            assert tree.inclusion_proof(index) == memory.inclusion_proof(index, cut)
        for old in (1, cut // 3 or 1, cut):
            assert tree.consistency_proof(old) == memory.consistency_proof(old, cut)
        tree.close()


def test_nodes_written_after_the_state_are_cut_back(tmp_path):
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(10)]
    tree = FileTree(tmp_path)
    tree.append_leaves(leaves[:6], head_hash="h", last_id=6)
    tree.close()
    with open(tmp_path / "level-00.bin", "ab") as handle:  # a crash before state.json
        handle.write(b"".join(leaves[6:]))
    tree = FileTree(tmp_path)
    assert tree.size == 6 and tree.root() == merkle.root(leaves[:6])
    tree.append_leaves(leaves[6:], head_hash="h2", last_id=10)
    assert tree.root() == merkle.root(leaves)
    tree.close()

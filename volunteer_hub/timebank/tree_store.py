"""The ledger's Merkle tree kept on disk next to the checkpoints, so that a checkpoint hashes
only the transactions since the previous one and a proof reads ~2 log2(n) nodes.

Layout (in LEDGER_CHECKPOINT_DIR/tree/): ``level-HH.bin`` holds the complete nodes of height
HH as 32-byte hashes in index order (level 00: the leaves); ``state.json`` names the tree
size, the chain hash and id of its last transaction. Files are only appended to; state.json
is replaced after them, and on opening each file is cut back to what state.json covers, so
a crash in between loses nothing that was published.

Nothing here is trusted by `ledger verify`, which rebuilds the tree from the database; a
checkpoint uses it only after its root at the last checkpoint's size matches that signed
checkpoint (see services.make_checkpoint).
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from volunteer_hub.timebank.merkle import HASH_SIZE, MerkleTree, node_hash

STATE = "state.json"


class FileTree(MerkleTree):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        state = _read_state(folder)
        self.state = state
        self._size = state["size"]
        self._files: dict[int, object] = {}
        self._cut_to_state()

    @property
    def size(self) -> int:
        return self._size

    @property
    def head_hash(self) -> str | None:
        return self.state.get("head_hash")

    @property
    def last_id(self) -> int:
        return self.state.get("last_id", 0)

    def complete_node(self, height: int, index: int) -> bytes:
        handle = self._file(height)
        handle.seek(index * HASH_SIZE)
        value = handle.read(HASH_SIZE)
        if len(value) != HASH_SIZE:
            raise ValueError(f"tree store lacks node {height}/{index}")
        return value

    def append_leaves(self, leaves: Sequence[bytes], *, head_hash: str, last_id: int) -> None:
        """Add leaves, write the new complete nodes of every level, then the state."""
        new = list(leaves)
        height, count = 0, self._size
        while new:
            handle = self._file(height)
            handle.seek(count * HASH_SIZE)
            left = self.complete_node(height, count - 1) if count % 2 else None
            handle.seek(count * HASH_SIZE)
            handle.write(b"".join(new))
            handle.flush()
            entries = ([left] if left is not None else []) + new
            pairs = iter(entries[:len(entries) & ~1])
            new = [node_hash(a, b) for a, b in zip(pairs, pairs)]
            height, count = height + 1, count // 2
        for handle in self._files.values():
            os.fsync(handle.fileno())
        self._size += len(leaves)
        self.state = {"size": self._size, "head_hash": head_hash, "last_id": last_id}
        _write_state(self.folder, self.state)

    def replace_with(self, tree: MerkleTree, *, head_hash: str, last_id: int) -> None:
        """Rewrite the store from a tree built in memory (a full audit)."""
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.folder.glob("level-*.bin"):
            path.unlink()
        for height, level in enumerate(tree.levels):
            (self.folder / f"level-{height:02d}.bin").write_bytes(b"".join(level))
        self._size = tree.size
        self.state = {"size": tree.size, "head_hash": head_hash, "last_id": last_id}
        _write_state(self.folder, self.state)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def _file(self, height: int):
        handle = self._files.get(height)
        if handle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"level-{height:02d}.bin"
            handle = open(path, "r+b" if path.exists() else "w+b")  # noqa: SIM115 (kept open)
            self._files[height] = handle
        return handle

    def _cut_to_state(self) -> None:
        for path in self.folder.glob("level-*.bin"):
            height = int(path.stem.split("-")[1])
            wanted = (self._size >> height) * HASH_SIZE
            if path.stat().st_size > wanted:
                with open(path, "r+b") as handle:
                    handle.truncate(wanted)


@contextmanager
def locked(folder: Path):
    """One checkpoint maker at a time (the CLI and the nightly job may overlap)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state(folder: Path) -> dict:
    try:
        return json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return {"size": 0, "head_hash": None, "last_id": 0}


def _write_state(folder: Path, state: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / (STATE + ".tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, folder / STATE)

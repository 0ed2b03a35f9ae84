"""Migration f4a5b6c7d8e9: the MACs survive a forced downgrade and the upgrade after it, and a
downgrade is refused while rows carry them."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.test_migration_roundtrip import (  # noqa: F401  (fixtures)
    _current_revision, _ledger_verify, downgrade, empty_database_url, migrated_app, upgrade,
)
from volunteer_hub.db import db
from volunteer_hub.migration_guard import FORCE_ENVIRONMENT_VARIABLE, DataLossRefused
from volunteer_hub.timebank.models import LedgerTransaction

REVISION, BELOW = "f4a5b6c7d8e9", "e3f4a5b6c7d8"


def _macs() -> list[tuple[int, str | None, str | None]]:
    rows = db.session.execute(select(LedgerTransaction.id, LedgerTransaction.mac_key_id,
                                     LedgerTransaction.mac).order_by(LedgerTransaction.id)).all()
    db.session.remove()
    return [tuple(row) for row in rows]


def test_macs_survive_a_forced_round_trip(migrated_app, monkeypatch, tmp_path):
    monkeypatch.setitem(migrated_app.config, "LEDGER_CHECKPOINT_DIR", str(tmp_path))
    macs = _macs()
    assert macs and all(key_id and mac for _, key_id, mac in macs)
    # Newer revisions refuse first for their own columns (the demo fills them): past them.
    downgrade(REVISION, x_arg=["force=1"])
    with pytest.raises(DataLossRefused, match=r"ledger_transactions\.mac: %d" % len(macs)):
        downgrade(BELOW)
    assert _current_revision() == REVISION

    monkeypatch.setenv(FORCE_ENVIRONMENT_VARIABLE, "1")
    downgrade(BELOW)
    monkeypatch.delenv(FORCE_ENVIRONMENT_VARIABLE)
    assert _current_revision() == BELOW
    upgrade()

    assert _macs() == macs
    result = _ledger_verify(migrated_app)
    assert result.exit_code == 0, result.output
    assert "predate authentication" not in result.output

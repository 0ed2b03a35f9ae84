"""Time-bank transactions authenticated with a key outside the database (issue 14)

Each transaction gets the id of the MAC key and its HMAC (timebank.signing); rows written
before have neither and `ledger verify` counts them as predating authentication (a checkpoint
seals them). Checkpoints themselves live outside the database (LEDGER_CHECKPOINT_DIR).

Downgrading would leave the MACs to a code that does not write them: refused unless forced.
Forced, the MACs are kept in ledger_macs_kept and the upgrade puts them back, so a round
trip keeps every row's authentication (rows written while downgraded have none, and verify
reports them as FORGED after the first authenticated row: do not write while downgraded).

Revision ID: f4a5b6c7d8e9
Revises: e3f4a5b6c7d8
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = 'f4a5b6c7d8e9'
down_revision = 'e3f4a5b6c7d8'
branch_labels = None
depends_on = None

KEPT = 'ledger_macs_kept'
ADDED_COLUMNS = [('ledger_transactions', 'mac_key_id'), ('ledger_transactions', 'mac')]


def upgrade():
    # Plain ADD COLUMN (nullable, no default): no batch copy, which would drop SQLite's
    # append-only triggers, and no row is rewritten.
    op.add_column('ledger_transactions', sa.Column('mac_key_id', sa.String(length=32),
                                                   nullable=True))
    op.add_column('ledger_transactions', sa.Column('mac', sa.String(length=64), nullable=True))
    if KEPT in sa.inspect(op.get_bind()).get_table_names():
        _restore_kept_macs()


def downgrade():
    from volunteer_hub.migration_guard import refuse_data_loss

    refuse_data_loss(revision, columns=ADDED_COLUMNS)
    op.create_table(
        KEPT,
        sa.Column('transaction_id', sa.Integer(), nullable=False),
        sa.Column('mac_key_id', sa.String(length=32), nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('transaction_id', name=op.f(f'pk_{KEPT}')),
    )
    op.execute(f"INSERT INTO {KEPT} (transaction_id, mac_key_id, mac) "
               f"SELECT id, mac_key_id, mac FROM ledger_transactions WHERE mac IS NOT NULL")
    op.drop_column('ledger_transactions', 'mac')
    op.drop_column('ledger_transactions', 'mac_key_id')


def _restore_kept_macs():
    """The one UPDATE of the append-only table: each row's own MAC, as it was written."""
    with _append_only_triggers_suspended():
        for column in ('mac_key_id', 'mac'):
            op.execute(f"UPDATE ledger_transactions SET {column} = (SELECT k.{column} "
                       f"FROM {KEPT} k WHERE k.transaction_id = ledger_transactions.id) "
                       f"WHERE id IN (SELECT transaction_id FROM {KEPT})")
    op.drop_table(KEPT)


class _append_only_triggers_suspended:
    """Inside the migration's transaction: PostgreSQL disables the trigger, SQLite drops its
    UPDATE trigger and creates it again from its stored SQL."""

    def __enter__(self):
        connection = op.get_bind()
        self.postgresql = connection.dialect.name == 'postgresql'
        if self.postgresql:
            op.execute('ALTER TABLE ledger_transactions DISABLE TRIGGER '
                       'ledger_transactions_append_only')
            return self
        self.trigger_sql = connection.execute(sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
            "AND name = 'ledger_transactions_no_update'")).scalar()
        op.execute('DROP TRIGGER IF EXISTS ledger_transactions_no_update')
        return self

    def __exit__(self, *exc_info):
        if self.postgresql:
            op.execute('ALTER TABLE ledger_transactions ENABLE TRIGGER '
                       'ledger_transactions_append_only')
        elif self.trigger_sql:
            op.execute(self.trigger_sql)
        return False

"""ledger: each transaction records the canonical format its hash covers

Downgrading keeps every row's format that is not 1 in ledger_format_versions_kept and the
upgrade puts them back: a row hashed in format 2 relabelled format 1 would fail the audit
(CHAIN_BROKEN) for ever. Rows written while downgraded are format 1, as the older code
writes them.

Revision ID: e7f8a9b0c1d2
Revises: d6a7b8c9d0e1
Create Date: 2026-11-23 15:30:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7f8a9b0c1d2'
down_revision = 'd6a7b8c9d0e1'
branch_labels = None
depends_on = None

KEPT = 'ledger_format_versions_kept'


def upgrade():
    # A plain ADD COLUMN with a constant default (no batch copy: that would drop SQLite's
    # append-only triggers); it rewrites no rows, so those triggers are not involved.
    op.add_column('ledger_transactions', sa.Column('format_version', sa.SmallInteger(),
                                                   nullable=False, server_default='1'))
    if KEPT in sa.inspect(op.get_bind()).get_table_names():
        _restore_kept_formats()


def downgrade():
    op.create_table(
        KEPT,
        sa.Column('transaction_id', sa.Integer(), nullable=False),
        sa.Column('format_version', sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint('transaction_id', name=op.f(f'pk_{KEPT}')),
    )
    op.execute(f"INSERT INTO {KEPT} (transaction_id, format_version) "
               f"SELECT id, format_version FROM ledger_transactions WHERE format_version <> 1")
    op.drop_column('ledger_transactions', 'format_version')


def _restore_kept_formats():
    """The one UPDATE of the append-only table: its rows' own format, as they were hashed."""
    with _append_only_triggers_suspended():
        op.execute(f"UPDATE ledger_transactions SET format_version = (SELECT k.format_version "
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

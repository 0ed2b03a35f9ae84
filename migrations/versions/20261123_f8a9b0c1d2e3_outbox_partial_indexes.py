"""notify: partial outbox indexes, so a fan-out's rows cost only the indexes that find them

The queue index holds only claimable rows, the inbox index only inbox rows, and the receipt,
acknowledgement-deadline and fallback indexes only rows where those columns are set (NULL in
every new row). The plain recipient index goes: the inbox index serves the inbox.

Revision ID: f8a9b0c1d2e3
Revises: e7f8a9b0c1d2
Create Date: 2026-11-23 16:00:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f8a9b0c1d2e3'
down_revision = 'e7f8a9b0c1d2'
branch_labels = None
depends_on = None

CLAIMABLE = "status IN ('pending', 'sending')"
PARTIAL = {  # name: (columns, condition)
    'ix_outbox_messages_due': (['next_attempt_at', 'id'], CLAIMABLE),
    'ix_outbox_messages_inbox': (['recipient_id', 'id'], "channel = 'inbox'"),
    'ix_outbox_messages_ack_deadline': (['ack_deadline'], 'ack_deadline IS NOT NULL'),
    'ix_outbox_messages_provider_message_id': (['provider_message_id'],
                                               'provider_message_id IS NOT NULL'),
    'ix_outbox_messages_fallback_of_id': (['fallback_of_id'], 'fallback_of_id IS NOT NULL'),
}
FULL = {  # the indexes before this revision
    'ix_outbox_messages_status_due': ['status', 'next_attempt_at'],
    'ix_outbox_messages_recipient_id': ['recipient_id'],
    'ix_outbox_messages_ack_deadline': ['ack_deadline'],
    'ix_outbox_messages_provider_message_id': ['provider_message_id'],
    'ix_outbox_messages_fallback_of_id': ['fallback_of_id'],
}


def upgrade():
    # Plain CREATE/DROP INDEX (no batch copy of the table on SQLite).
    for name in FULL:
        op.drop_index(name, table_name='outbox_messages')
    for name, (columns, condition) in PARTIAL.items():
        op.create_index(name, 'outbox_messages', columns, unique=False,
                        postgresql_where=sa.text(condition), sqlite_where=sa.text(condition))


def downgrade():
    for name in PARTIAL:
        op.drop_index(name, table_name='outbox_messages')
    for name, columns in FULL.items():
        op.create_index(name, 'outbox_messages', columns, unique=False)

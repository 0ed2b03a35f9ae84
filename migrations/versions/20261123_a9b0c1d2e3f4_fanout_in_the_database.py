"""fan-out in the database: shared message texts, narrow outbox rows, lighter responders

outbox_contents holds an event's text once per language; an outbox row with a NULL body
uses it, with the personal link of its new ref_id made at send time. A sent SMS records
the segments billed, so the report's cost needs no text. The bulk-written
tables lose the foreign keys whose per-row checks cost as much as the rows (the referenced
users, volunteers, teams and activations are never deleted): outbox recipient and
fallback, and every key of the responders. The responders' activation and
activation-answer indexes go (the unique key leads with the activation, and the counts read
the rows anyway); the role index holds only assigned rows.

Downgrading puts each shared text back into its rows, but the older code cannot make the
personal link: stand running call-outs down first. Restoring the foreign keys fails if rows
without their referenced row were written meanwhile (nothing in the application does that).

Revision ID: a9b0c1d2e3f4
Revises: f8a9b0c1d2e3
Create Date: 2026-11-23 19:00:00
"""
from alembic import op
import sqlalchemy as sa

from volunteer_hub.migration_guard import refuse_data_loss


# revision identifiers, used by Alembic.
revision = 'a9b0c1d2e3f4'
down_revision = 'f8a9b0c1d2e3'
branch_labels = None
depends_on = None

OUTBOX_KEYS = {  # name: (column, referenced table, ondelete)
    'fk_outbox_messages_recipient_id_users': ('recipient_id', 'users', 'CASCADE'),
    'fk_outbox_messages_fallback_of_id_outbox_messages': ('fallback_of_id', 'outbox_messages',
                                                          'SET NULL'),
}
RESPONDER_KEYS = {
    'fk_emergency_responders_activation_id_emergency_activations': (
        'activation_id', 'emergency_activations', 'CASCADE'),
    'fk_emergency_responders_volunteer_id_volunteers': ('volunteer_id', 'volunteers', None),
    'fk_emergency_responders_user_id_users': ('user_id', 'users', None),
    'fk_emergency_responders_team_id_teams': ('team_id', 'teams', None),
    'fk_emergency_responders_role_id_emergency_activation_roles': (
        'role_id', 'emergency_activation_roles', 'SET NULL'),
    'fk_emergency_responders_safe_confirmed_by_id_users': ('safe_confirmed_by_id', 'users',
                                                           None),
}
ASSIGNED = 'role_id IS NOT NULL'


def upgrade():
    op.create_table(
        'outbox_contents',
        sa.Column('event_key', sa.String(length=120), nullable=False),
        sa.Column('locale', sa.String(length=10), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('event_key', 'locale', name=op.f('pk_outbox_contents')),
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ref_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('segments', sa.SmallInteger(), nullable=True))
        batch_op.alter_column('body', existing_type=sa.Text(), nullable=True)
        for name in OUTBOX_KEYS:
            batch_op.drop_constraint(name, type_='foreignkey')
    with op.batch_alter_table('emergency_responders', schema=None) as batch_op:
        for name in RESPONDER_KEYS:
            batch_op.drop_constraint(name, type_='foreignkey')
        batch_op.drop_index('ix_emergency_responders_activation_id')
        batch_op.drop_index('ix_emergency_responders_activation_answer')
        batch_op.drop_index('ix_emergency_responders_role_id')
        batch_op.create_index('ix_emergency_responders_role_id', ['role_id'], unique=False,
                              postgresql_where=sa.text(ASSIGNED), sqlite_where=sa.text(ASSIGNED))


def downgrade():
    refuse_data_loss(revision, tables=('outbox_contents',),
                     columns=[('outbox_messages', 'ref_id'), ('outbox_messages', 'segments')])
    with op.batch_alter_table('emergency_responders', schema=None) as batch_op:
        batch_op.drop_index('ix_emergency_responders_role_id')
        batch_op.create_index('ix_emergency_responders_role_id', ['role_id'], unique=False)
        batch_op.create_index('ix_emergency_responders_activation_id', ['activation_id'],
                              unique=False)
        batch_op.create_index('ix_emergency_responders_activation_answer',
                              ['activation_id', 'answer'], unique=False)
        for name, (column, table, ondelete) in RESPONDER_KEYS.items():
            batch_op.create_foreign_key(name, table, [column], ['id'], ondelete=ondelete)
    # Shared-text rows get their text back, without the personal link (see above).
    for column in ('subject', 'body'):
        op.execute(f"UPDATE outbox_messages SET {column} = COALESCE((SELECT c.{column} "
                   f"FROM outbox_contents c WHERE c.event_key = outbox_messages.event_key "
                   f"AND c.locale = outbox_messages.locale), '') WHERE body IS NULL")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        for name, (column, table, ondelete) in OUTBOX_KEYS.items():
            batch_op.create_foreign_key(name, table, [column], ['id'], ondelete=ondelete)
        batch_op.alter_column('body', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('segments')
        batch_op.drop_column('ref_id')
    op.drop_table('outbox_contents')

"""matching: volunteer preferences; needs.Notification replaced by the notify inbox

Revision ID: d6a7b8c9d0e1
Revises: a3d4e5f6a7b8
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa

from volunteer_hub.migration_guard import refuse_data_loss


# revision identifiers, used by Alembic.
revision = 'd6a7b8c9d0e1'
down_revision = 'a3d4e5f6a7b8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('matching_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('need_types', sa.JSON(), nullable=False),
    sa.Column('max_travel_km', sa.Float(), nullable=True),
    sa.Column('weekdays', sa.JSON(), nullable=False),
    sa.Column('day_parts', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_matching_preferences_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matching_preferences')),
    sa.UniqueConstraint('volunteer_id', name=op.f('uq_matching_preferences_volunteer_id'))
    )
    # The in-app inbox is the notify feature's outbox ("inbox" channel) from now on.
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_user_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_created_at'))

    op.drop_table('notifications')


def downgrade():
    refuse_data_loss(revision, tables=('matching_preferences',))
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('link', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_user_id'), ['user_id'], unique=False)

    op.drop_table('matching_preferences')

"""Channel registry: per-org fallback order and the WeChat preference (issue 15)

notification_preferences.wechat: a person can switch WeChat messages off (on by default,
like every channel). notify_channel_orders: the order an organization's people are tried in.

Revision ID: 1b2c3d4e5f60
Revises: 0a1b2c3d4e5f
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '1b2c3d4e5f60'
down_revision = '0a1b2c3d4e5f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification_preferences') as batch:
        batch.add_column(sa.Column('wechat', sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    op.create_table(
        'notify_channel_orders',
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('channels', sa.String(length=200), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'],
                                name=op.f('fk_notify_channel_orders_org_id_orgs'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'],
                                name=op.f('fk_notify_channel_orders_updated_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('org_id', name=op.f('pk_notify_channel_orders')),
    )


def downgrade():
    # Organizations' orders and people's WeChat choices would be lost: refuse unless forced.
    from volunteer_hub.migration_guard import refuse_data_loss

    # Only a WeChat switched off is a choice; on is every row's default.
    refuse_data_loss(revision, tables=['notify_channel_orders'], queries=[(
        'people who switched WeChat off',
        'SELECT COUNT(*) FROM notification_preferences WHERE NOT wechat')])
    op.drop_table('notify_channel_orders')
    with op.batch_alter_table('notification_preferences') as batch:
        batch.drop_column('wechat')

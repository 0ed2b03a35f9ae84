"""Certificate issuer fields, seal, credit code, star notice period (issue 16)

The org that records a service issues its certificate: it sets the person in charge, the
handler, the contact, its unified social credit code and its official seal (an image kept in
the database, never served to anyone except inside certificates). New star levels are listed
publicly for a notice period (star_notices) before they are final.

Revision ID: 60718293a4b5
Revises: 5f60718293a4
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '60718293a4b5'
down_revision = '5f60718293a4'
branch_labels = None
depends_on = None

ORG_COLUMNS = [("orgs", "person_in_charge"), ("orgs", "handler"), ("orgs", "contact"),
               ("orgs", "credit_code"), ("orgs", "seal_image"), ("orgs", "seal_mime")]


def upgrade():
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_in_charge', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('handler', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('contact', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('credit_code', sa.String(length=18), nullable=True))
        batch_op.add_column(sa.Column('seal_image', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('seal_mime', sa.String(length=16), nullable=True))
    op.create_table(
        'star_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('volunteer_id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('service_minutes', sa.Integer(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_star_notices_org_id_orgs')),
        sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'],
                                name=op.f('fk_star_notices_volunteer_id_volunteers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_star_notices')),
        sa.UniqueConstraint('volunteer_id', 'level', name='uq_star_notices_level'),
    )
    with op.batch_alter_table('star_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_star_notices_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_star_notices_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_star_notices_volunteer_id'), ['volunteer_id'],
                              unique=False)


def downgrade():
    # The issuer fields and the seal were typed in by each org; the notices say when a star
    # became final: refuse to drop them silently.
    from volunteer_hub.migration_guard import refuse_data_loss

    refuse_data_loss(revision, tables=["star_notices"], columns=ORG_COLUMNS)
    with op.batch_alter_table('star_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_star_notices_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_star_notices_org_id'))
        batch_op.drop_index(batch_op.f('ix_star_notices_ends_at'))
    op.drop_table('star_notices')
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA defer_foreign_keys = ON")  # rows referencing orgs wait for the rebuild
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        for _table, column in reversed(ORG_COLUMNS):
            batch_op.drop_column(column)

"""Indexes for the monthly recap: a unit's month, and the TK days behind its warnings.

Revision ID: 0006
Revises: 0005

- ``ix_daily_status_unit_date`` (unit_id, work_date): LB.1 of one unit reads that unit's
  month instead of every unit's (bench/bench_recap.py, "SQL, LB.1 per unit").
- ``ix_daily_status_tk`` (person_id, work_date) WHERE status = 'TK': the year-to-date TK
  count and the TK runs read only TK days, a few percent of the table, instead of the year.

Written out in full, like the earlier revisions; a test compares it with
``central.schema.attendance``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TK = "status = 'TK'"


def upgrade() -> None:
    """Create the recap's indexes on daily_status."""
    op.create_index("ix_daily_status_unit_date", "daily_status", ["unit_id", "work_date"])
    op.create_index(
        "ix_daily_status_tk",
        "daily_status",
        ["person_id", "work_date"],
        sqlite_where=sa.text(TK),
        postgresql_where=sa.text(TK),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_daily_status_tk", table_name="daily_status")
    op.drop_index("ix_daily_status_unit_date", table_name="daily_status")

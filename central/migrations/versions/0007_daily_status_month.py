"""The month's totals per person (``daily_status_month``), kept by triggers on ``daily_status``.

Revision ID: 0007
Revises: 0006

The monthly recap read and grouped every day of the month (330,000 rows for 11,000 people):
0.6-0.7 s of SQLite's one thread and 0.2 s of PostgreSQL's. It now reads one row per person,
unit and versions from this table (bench/bench_recap.py, bench/README.md "Recap").

Why triggers and not the application: ``daily_status`` is written by the daily computation,
but also by an operator's SQL, a restore, a test fixture. A trigger keeps the totals right
whoever writes, in the writer's own transaction, so a recap can never see days and totals
that disagree. Row triggers on both backends (on PostgreSQL in PL/pgSQL, with a one-statement
path for a day recomputed under the same key).

The per-day contributions below are the recap's counting rules (``central.attendance.recap_sql``
``_packs``) written out, as revisions are frozen: a test checks, on both backends, that after
inserts, updates and deletes the table equals the recap's own aggregate of ``daily_status``.
If those rules change, a new revision replaces these triggers and rebuilds the table
(``central.attendance.recap_month.rebuild``).
"""

# The SQL below is assembled from this module's constants only, never from input.
# ruff: noqa: S608

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE = "daily_status_month"
KEYS = ("month", "person_id", "unit_key", "ruleset_version", "calendar_version")
#: What one day adds to each total; ``{r}`` is the day's row (NEW, OLD or a transition table).
#: Counts are packed 5 bits each (count i weighs 32**i), as the recap unpacks them.
ADDS = {
    "p_sched": """CASE WHEN {r}.scheduled THEN CASE
        WHEN {r}.status IN ('HADIR', 'ABSEN') AND {r}.code IN ('DL', 'DLD', 'DIK', 'WFH') THEN 1
        WHEN {r}.status = 'HADIR' THEN 32
        WHEN {r}.status = 'ABSEN' AND {r}.code IN ('I', 'IZ') THEN 1024
        WHEN {r}.status = 'ABSEN' AND {r}.code IN ('S') THEN 32768
        WHEN {r}.status = 'TK' THEN 1048576
        WHEN {r}.status = 'PENDING' THEN 33554432
        ELSE 0 END ELSE 0 END""",
    "p_cuti": """CASE WHEN {r}.scheduled AND {r}.status = 'ABSEN' THEN CASE
        WHEN {r}.code = 'CT' THEN 1
        WHEN {r}.code = 'CB' THEN 32
        WHEN {r}.code = 'CS' THEN 1024
        WHEN {r}.code = 'CM' THEN 32768
        WHEN {r}.code = 'CAP' THEN 1048576
        WHEN {r}.code = 'CLTN' THEN 33554432
        ELSE 0 END ELSE 0 END""",
    "p_flags": """CASE WHEN {r}.scheduled THEN 1 ELSE 0 END
        + CASE WHEN {r}.status = 'PENDING' THEN 32 ELSE 0 END
        + CASE WHEN {r}.corrected THEN 1024 ELSE 0 END
        + CASE WHEN {r}.forgot_in THEN 32768 ELSE 0 END
        + CASE WHEN {r}.forgot_out THEN 1048576 ELSE 0 END
        + CASE WHEN {r}.scheduled AND {r}.status = 'ABSEN' AND {r}.code = 'CBER'
            THEN 33554432 ELSE 0 END""",
    "p_tl": """CASE WHEN {r}.tl = 'TL1' THEN 1 WHEN {r}.tl = 'TL2' THEN 32
        WHEN {r}.tl = 'TL3' THEN 1024 WHEN {r}.tl = 'TL4' THEN 32768 ELSE 0 END""",
    "p_psw": """CASE WHEN {r}.psw = 'PSW1' THEN 1 WHEN {r}.psw = 'PSW2' THEN 32
        WHEN {r}.psw = 'PSW3' THEN 1024 WHEN {r}.psw = 'PSW4' THEN 32768 ELSE 0 END""",
    "tl_minutes": "{r}.late_minutes",
    "psw_minutes": "{r}.early_minutes",
    "outside_minutes": "{r}.outside_minutes",
}
#: The day's month and its deduction in hundredths, per dialect (SQLite keeps the NUMERIC
#: as a float, hence the rounding, as the recap did; PostgreSQL's is exact).
MONTH = {
    "sqlite": "CAST(strftime('%Y%m', {r}.work_date) AS INTEGER)",
    "postgresql": "(EXTRACT(YEAR FROM {r}.work_date) * 100"
    " + EXTRACT(MONTH FROM {r}.work_date))::integer",
}
CENTS = {
    "sqlite": "CAST(round({r}.deduction_pct * 100) AS INTEGER)",
    "postgresql": "({r}.deduction_pct * 100)::bigint",
}
TOTALS = ("days", *ADDS, "ded_cents")


def _key_values(dialect: str, r: str) -> list[str]:
    return [
        MONTH[dialect].format(r=r),
        f"{r}.person_id",
        f"COALESCE({r}.unit_id, 0)",
        f"{r}.ruleset_version",
        f"{r}.calendar_version",
    ]


def _day_values(dialect: str, r: str) -> list[str]:
    # One day's contribution to each of TOTALS.
    return ["1", *(e.format(r=r) for e in ADDS.values()), CENTS[dialect].format(r=r)]


def _key_match(dialect: str, table: str, r: str) -> str:
    pairs = zip(KEYS, _key_values(dialect, r), strict=True)
    return " AND ".join(f"{table}.{k} = {v}" for k, v in pairs)


def _columns() -> str:
    return ", ".join((*KEYS, *TOTALS))


# --- SQLite: row triggers -----------------------------------------------------------------------


def _sqlite_add(r: str) -> str:
    values = ", ".join((*_key_values("sqlite", r), *_day_values("sqlite", r)))
    sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in TOTALS)
    return (
        f"INSERT INTO {TABLE} ({_columns()}) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET {sets};"
    )


def _sqlite_sub(r: str) -> str:
    sets = ", ".join(
        f"{c} = {c} - ({v})" for c, v in zip(TOTALS, _day_values("sqlite", r), strict=True)
    )
    match = _key_match("sqlite", TABLE, r)
    return (
        f"UPDATE {TABLE} SET {sets} WHERE {match}; "
        f"DELETE FROM {TABLE} WHERE {match} AND {TABLE}.days = 0;"
    )


def sqlite_statements() -> list[str]:
    """The SQLite triggers."""
    return [
        f"CREATE TRIGGER {TABLE}_ins AFTER INSERT ON daily_status BEGIN {_sqlite_add('NEW')} END",
        f"CREATE TRIGGER {TABLE}_del AFTER DELETE ON daily_status BEGIN {_sqlite_sub('OLD')} END",
        # Add the new day before taking the old one away: a total that stays (the usual
        # recompute) is never brought to zero and deleted in between.
        f"CREATE TRIGGER {TABLE}_upd AFTER UPDATE ON daily_status "
        f"BEGIN {_sqlite_add('NEW')} {_sqlite_sub('OLD')} END",
    ]


# --- PostgreSQL: row triggers in PL/pgSQL -----------------------------------------------------
# Measured against statement triggers with transition tables (bench/bench_recap.py): those add
# a COPY's rows in one grouped statement, but the daily computation writes by executemany, one
# statement per day, and two statement triggers per upsert cost 130 us a day against ~20 here.


def _pg_add(r: str) -> str:
    values = ", ".join((*_key_values("postgresql", r), *_day_values("postgresql", r)))
    sets = ", ".join(f"{c} = t.{c} + excluded.{c}" for c in TOTALS)
    return (
        f"INSERT INTO {TABLE} AS t ({_columns()}) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET {sets};"
    )


def _pg_sub(r: str) -> str:
    sets = ", ".join(
        f"{c} = t.{c} - ({v})" for c, v in zip(TOTALS, _day_values("postgresql", r), strict=True)
    )
    match = _key_match("postgresql", "t", r)
    return (
        f"UPDATE {TABLE} AS t SET {sets} WHERE {match}; "
        f"DELETE FROM {TABLE} AS t WHERE {match} AND t.days = 0;"
    )


def _pg_move() -> str:
    # A recomputed day usually keeps its key (same person, month, unit and versions): then one
    # UPDATE by the difference, or nothing when no total moves (a new check-in time, a note).
    new, old = _day_values("postgresql", "NEW"), _day_values("postgresql", "OLD")
    same_key = "ROW({}) = ROW({})".format(
        ", ".join(_key_values("postgresql", "NEW")), ", ".join(_key_values("postgresql", "OLD"))
    )
    sets = ", ".join(
        f"{c} = t.{c} + ({n}) - ({o})" for c, n, o in zip(TOTALS, new, old, strict=True)
    )
    return (
        f"IF {same_key} THEN "
        f"IF ROW({', '.join(new)}) <> ROW({', '.join(old)}) THEN "
        f"UPDATE {TABLE} AS t SET {sets} WHERE {_key_match('postgresql', 't', 'NEW')}; "
        f"END IF; "
        f"ELSE {_pg_add('NEW')} {_pg_sub('OLD')} END IF;"
    )


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body} RETURN NULL; END $$"
    )


def postgresql_statements() -> list[str]:
    """The PostgreSQL functions and triggers."""
    each = "FOR EACH ROW EXECUTE FUNCTION"
    return [
        _pg_function(f"{TABLE}_add", _pg_add("NEW")),
        _pg_function(f"{TABLE}_sub", _pg_sub("OLD")),
        _pg_function(f"{TABLE}_move", _pg_move()),
        f"CREATE TRIGGER {TABLE}_ins AFTER INSERT ON daily_status {each} {TABLE}_add()",
        f"CREATE TRIGGER {TABLE}_del AFTER DELETE ON daily_status {each} {TABLE}_sub()",
        f"CREATE TRIGGER {TABLE}_upd AFTER UPDATE ON daily_status {each} {TABLE}_move()",
        # TRUNCATE fires no row trigger: the totals go with the days.
        f"CREATE FUNCTION {TABLE}_clear() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN DELETE FROM {TABLE}; RETURN NULL; END $$",
        f"CREATE TRIGGER {TABLE}_truncate AFTER TRUNCATE ON daily_status "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_clear()",
    ]


def _grouped(dialect: str, rows: str) -> str:
    # The totals of the days in ``rows``, per key.
    keys = ", ".join(f"{v} AS {k}" for k, v in zip(KEYS, _key_values(dialect, "d"), strict=True))
    sums = ", ".join(
        f"sum({v}) AS {c}" for c, v in zip(TOTALS, _day_values(dialect, "d"), strict=True)
    )
    return f"SELECT {keys}, {sums} FROM {rows} AS d GROUP BY 1, 2, 3, 4, 5"


def backfill(dialect: str) -> str:
    """The totals of the days already there (the triggers only see what comes after)."""
    return f"INSERT INTO {TABLE} ({_columns()}) {_grouped(dialect, 'daily_status')}"


def upgrade() -> None:
    """Create the table, its triggers, and fill it from the days already stored."""
    op.create_table(
        TABLE,
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit_key", sa.Integer(), nullable=False),
        sa.Column("ruleset_version", sa.String(length=64), nullable=False),
        sa.Column("calendar_version", sa.String(length=64), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("p_sched", sa.Integer(), nullable=False),
        sa.Column("p_cuti", sa.Integer(), nullable=False),
        sa.Column("p_flags", sa.Integer(), nullable=False),
        sa.Column("p_tl", sa.Integer(), nullable=False),
        sa.Column("p_psw", sa.Integer(), nullable=False),
        sa.Column("tl_minutes", sa.Integer(), nullable=False),
        sa.Column("psw_minutes", sa.Integer(), nullable=False),
        sa.Column("outside_minutes", sa.Integer(), nullable=False),
        sa.Column("ded_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEYS, name="pk_daily_status_month"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = sqlite_statements()
    elif dialect == "postgresql":
        statements = postgresql_statements()
    else:
        raise NotImplementedError(f"daily_status_month triggers on {dialect}")
    for statement in [*statements, backfill(dialect)]:
        op.execute(sa.text(statement))


def downgrade() -> None:
    """Drop the triggers and the table."""
    dialect = op.get_bind().dialect.name
    for suffix in ("ins", "del", "upd", "truncate"):
        on = " ON daily_status" if dialect == "postgresql" else ""
        op.execute(sa.text(f"DROP TRIGGER IF EXISTS {TABLE}_{suffix}{on}"))
    if dialect == "postgresql":
        for fn in ("add", "sub", "move", "clear"):
            op.execute(sa.text(f"DROP FUNCTION IF EXISTS {TABLE}_{fn}()"))
    op.drop_table(TABLE)

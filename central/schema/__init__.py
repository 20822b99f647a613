"""The central database's tables, one module per area, all on one :data:`metadata`.

Alembic migrations (``central/migrations``) are the authority on the live schema; these table
objects are what the queries use, and a test checks the two agree on every backend.
"""

from central.schema.base import metadata
from central.schema.ingest import dead_letter, device, punch

__all__ = ["dead_letter", "device", "metadata", "punch"]

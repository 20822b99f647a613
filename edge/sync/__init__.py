"""Template sync, the terminal's side (docs/template-sync.md).

:class:`TemplateSync` is the daemon's book of enrolled fingers (the admin service's
:class:`edge.admin.ports.TemplateBook`), carries out the central's template commands, queues the
sealed enrollment reports and reconciles the module with the slot map.
"""

from edge.sync.book import CENTRAL, RECONCILE, NoOutput, SyncBook, SyncDisabled, SyncOutput
from edge.sync.commands import TemplateSync

__all__ = [
    "CENTRAL",
    "RECONCILE",
    "NoOutput",
    "SyncBook",
    "SyncDisabled",
    "SyncOutput",
    "TemplateSync",
]

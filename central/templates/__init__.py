"""Template sync at the central (issue 6, docs/template-sync.md): one module per job.

* :mod:`~central.templates.keys`: the central's X25519 key file and the terminals' public keys.
* :mod:`~central.templates.scope`: which terminals serve which people (sites), and the rosters.
* :mod:`~central.templates.store`: templates kept sealed, per-terminal state, the command outbox,
  deletions and the audit.
* :mod:`~central.templates.intake`: what the collector does with ``enrolled``/``deleted`` reports
  and command results.
* :mod:`~central.templates.diff`: the answer to an inventory (install, delete, upload, roster).
* :mod:`~central.templates.dispatch`: the outbox sender in every collector process.
* :mod:`~central.templates.report`: the listings behind ``hadir-central template list|status``.
* :mod:`~central.templates.ops`: the ``template`` and ``keys`` commands (the CLI only writes rows).

Everything but the dispatcher runs inside the caller's transaction; the collector acknowledges a
message to the broker only after that transaction committed, as it does for punches.
"""

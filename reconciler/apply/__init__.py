"""Apply: the two-phase write of a plan and the state that remembers it.

Owns the applier (``applier``: which changes go through the two-phase write, in
what order), the two steps of that write (``proposal``: ``stage`` journals and
sends the soft patch, ``decide`` sends the ack and records the outcome), settling
what an interrupted run left (``settle``), the durable bookkeeping of a run
(``ledger``), the deterministic idempotency keys (``keys``), the outcomes it
reports (``outcome``) and the state file with its write-ahead journal (``state``).
Progress is reported through ``reconciler.catalog.interface.Progress``: no CLI
module is imported here.

May import: ``reconciler.errors``, ``reconciler.manifests``, ``reconciler.planning``
and the ``reconciler.catalog.interface.Catalog`` protocol (never the HTTP client).
The state file is the only file written here; a proposal is journalled durably
before its soft patch is sent.
"""

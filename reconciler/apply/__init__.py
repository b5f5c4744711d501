"""Apply: the two-phase write of a plan and the state that remembers it.

Owns the applier (``applier``: stage every change as a soft patch, then decide it
with an ack) and the state file with its write-ahead journal (``state``).

May import: ``reconciler.errors``, ``reconciler.manifests``, ``reconciler.planning``
and the ``reconciler.catalog.interface.Catalog`` protocol (never the HTTP client).
The state file is the only file written here; a proposal is journalled durably
before its soft patch is sent.
"""

"""Planning: the pure core that turns desired models and live drafts into a plan.

Owns what each field kind means (``fields``: how it normalizes, compares, displays
and becomes a patch), normalization of both sides (``normalize``), the minimal patch
of one model (``diff``), the planner (``planner``), the plan as immutable data with
its own safety rules (``plan``) and the saved plan file (``saved``), and the manifest
that describes an existing draft (``importer``).

May import: ``reconciler.errors``, ``reconciler.manifests`` (desired models) and
``reconciler.catalog.wire`` (the shape of a live draft). No I/O: no HTTP, no files,
no clock, no terminal.
"""

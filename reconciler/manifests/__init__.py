"""Manifests: the first stage of the pipeline, from YAML files to desired models.

Owns the strict YAML reading (``yaml_compose``, ``yaml_strict``), the manifest
documents and their rules (``model``, ``rules``, ``defaults``, ``iso4217``),
located diagnostics (``diagnostics``), the loader that turns a tree of files into
``DesiredModel`` objects (``loader``) and the JSON Schema for editors (``schema``).

May import: ``reconciler.errors`` and the standard library, pydantic and PyYAML.
Nothing here talks to the catalog, the state or a terminal; only the loader reads
files.
"""

"""Catalog: everything that talks to the catalog service over ``POST /model/draft``.

Owns the wire models named exactly as the service documents them (``wire``), the
narrow interface the rest of reconciler depends on (``interface.Catalog``: read,
soft patch, ack), the HTTP client that implements it (``client``) with retries
(``retry``) and the mapping of failed answers to our errors (``classify``), the
choice between an endpoint and the embedded local catalog (``connection``) and the
concurrent reads of a refresh (``refresh``).

May import: ``reconciler.errors``, ``reconciler.manifests`` (for the desired models a
refresh reads) and, only in ``connection``, ``reconciler.server`` for the embedded
catalog. Never imports planning, apply, render or cli.
"""

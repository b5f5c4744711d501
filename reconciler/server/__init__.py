"""The local catalog server: the embedded default catalog and the counterpart of the e2e tests.

It implements ``shared/api/contract.md`` over a SQLite file; ``create_app`` builds
the ASGI app (serve it with uvicorn, or use it in-process through
``httpx.ASGITransport``), ``FaultInjector`` makes it misbehave on purpose in tests.
"""

from reconciler.server.app import create_app
from reconciler.server.faults import FaultInjector

__all__ = ["FaultInjector", "create_app"]

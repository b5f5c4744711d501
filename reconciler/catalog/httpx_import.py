"""httpx, imported without its command-line client, which reconciler never runs.

httpx's package imports ``httpx._main`` (its own ``httpx`` command: rich's syntax view
and pygments) when it is imported, guarded by ``except ImportError`` for installs
without the ``cli`` extra. That was a sixth of the instructions ``plan`` spends
importing (callgrind: 2.45 G -> 2.07 G for ``import reconciler.cli.plan``). Marking
that one module as absent while httpx is imported takes the guard's branch; the mark
is removed at once, so an explicit ``import httpx._main`` later still works. A release
that stopped guarding the import is imported whole. The modules of this package that
use httpx import it from here, so whichever comes first imports it this way.
"""

from __future__ import annotations

import sys
from types import ModuleType


def _import_without_cli() -> ModuleType:
    if "httpx" in sys.modules:
        return sys.modules["httpx"]
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
    try:
        import httpx
    except ImportError:
        for name in [name for name in sys.modules if name.split(".")[0] == "httpx"]:
            del sys.modules[name]
        import httpx
    finally:
        if "httpx._main" in sys.modules and sys.modules["httpx._main"] is None:
            del sys.modules["httpx._main"]
    return httpx


_import_without_cli()

import httpx  # noqa: E402  (the module imported above, from sys.modules)

__all__ = ["httpx"]

"""What the catalog commands share: options, settings read from the environment, output."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from rich.console import Console

from reconciler.apply.state import StateDocument
from reconciler.catalog.client import CatalogClient
from reconciler.catalog.connection import open_catalog
from reconciler.catalog.limiter import AUTO_MAXIMUM
from reconciler.cli.progress import Progress, ProgressMode
from reconciler.errors import StateError
from reconciler.planning.saved import endpoint_label
from reconciler.render.formats import FORMAT_NAMES as FORMATS

DEFAULT_STATE = Path("reconciler.state.json")
EMBEDDED_DB = Path(".reconciler") / "catalog.sqlite3"

__all__ = ["FORMATS", "Settings", "catalog_options", "emit", "now", "run", "warn"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """Everything a catalog command needs, read once from flags and the environment."""

    endpoint: str | None
    token: str | None = field(repr=False)
    state_path: Path
    # With ``adaptive`` (``--parallelism auto``), the ceiling the learnt limit moves under.
    parallelism: int
    lock_timeout: float
    color: bool
    in_ci: bool
    interactive: bool
    adaptive: bool = False

    @functools.cached_property
    def err(self) -> Console:
        """The console for progress, notes and warnings: stderr, never stdout."""
        return Console(stderr=True, no_color=not self.color, highlight=False, soft_wrap=True)

    def note(self, message: str) -> None:
        """A note on stderr, as written (no markup)."""
        self.err.print(message, markup=False, highlight=False)

    def note_lock_wait(self, message: str) -> None:
        """The state store's word that it waits for the lock, with the option that bounds it."""
        self.note(lock_wait_words(message))

    def open_client(self) -> CatalogClient:
        """A client for the configured endpoint, or for the embedded catalog."""
        return open_catalog(
            self.endpoint,
            token=self.token,
            parallelism=self.parallelism,
            adaptive=self.adaptive,
            embedded_db=EMBEDDED_DB,
            notify=self._note_embedded,
        )

    def _note_embedded(self, message: str) -> None:
        # The connection says which catalog; the CLI says how to choose another.
        self.err.print(
            message.replace("configured:", "configured (--endpoint / CATALOG_ENDPOINT):", 1),
            markup=False,
            highlight=False,
        )

    @property
    def shows_bar(self) -> bool:
        """Whether progress is a bar (a person at a terminal) rather than lines or nothing."""
        return self.interactive and not self.in_ci

    @property
    def catalog(self) -> str:
        """The catalog this run talks to, as the state and saved plans record it."""
        return endpoint_label(self.endpoint)

    def check_catalog(self, doc: StateDocument) -> None:
        """Refuse a state kept for another catalog (a state bound to none is anyone's)."""
        if doc.catalog is not None and doc.catalog != self.catalog:
            raise StateError(
                f"the state {self.state_path} belongs to the catalog {doc.catalog}, but this "
                f"run talks to {self.catalog}; its draft ids mean nothing there. Use --state "
                "with another file for another catalog, or, if the catalog only moved to a new "
                f'address, set "catalog" in {self.state_path} to "{self.catalog}"'
            )

    def progress(self, description: str, total: int, *, lines: bool) -> Progress:
        """A bar on a terminal; in CI one line per item when ``lines``; else nothing."""
        if self.shows_bar:
            mode = ProgressMode.BAR
        elif lines:
            mode = ProgressMode.LINES
        else:
            mode = ProgressMode.NONE
        return Progress(mode, self.err, description, total)


def catalog_options(func: F) -> F:
    """The options of every command that talks to the catalog or the state.

    The command receives them as one ``settings: Settings`` argument.
    """
    options = [
        click.option(
            "--endpoint",
            envvar="CATALOG_ENDPOINT",
            metavar="URL",
            help="Catalog base URL (else CATALOG_ENDPOINT, else the embedded local catalog).",
        ),
        click.option(
            "--state",
            "state_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=DEFAULT_STATE,
            show_default=True,
            help="State file: which draft each model is.",
        ),
        click.option(
            "--parallelism",
            type=ParallelismType(),
            default="10",
            show_default=True,
            help=(
                "Requests in flight at once: a number from 1 to 256, or 'auto' to start at "
                f"4 and adapt to the catalog (up to {AUTO_MAXIMUM}; halved on 429 or slowing)."
            ),
        ),
        click.option(
            "--lock-timeout",
            type=click.FloatRange(0),
            default=10.0,
            show_default=True,
            help="Seconds to wait for the state lock.",
        ),
        click.option("--no-color", is_flag=True, help="No colour (also NO_COLOR)."),
    ]

    @functools.wraps(func)
    def with_settings(
        *args: Any,
        endpoint: str | None,
        state_path: Path,
        parallelism: int | str,
        lock_timeout: float,
        no_color: bool,
        **kwargs: Any,
    ) -> Any:
        settings = settings_from(endpoint, state_path, parallelism, lock_timeout, no_color)
        return func(*args, settings=settings, **kwargs)

    wrapped: Any = with_settings
    for option in reversed(options):
        wrapped = option(wrapped)
    return cast(F, wrapped)


def settings_from(
    endpoint: str | None,
    state_path: Path,
    parallelism: int | str,
    lock_timeout: float,
    no_color: bool,
) -> Settings:
    """Settings from the flags and the environment (the token comes from CATALOG_TOKEN only)."""
    # A bar only for a person watching a terminal: not in CI, not when output is piped.
    interactive = sys.stderr.isatty() and sys.stdout.isatty()
    return Settings(
        endpoint=endpoint or None,
        token=os.environ.get("CATALOG_TOKEN") or None,
        state_path=state_path,
        parallelism=AUTO_MAXIMUM if parallelism == AUTO else int(parallelism),
        adaptive=parallelism == AUTO,
        lock_timeout=lock_timeout,
        color=sys.stdout.isatty() and not no_color and "NO_COLOR" not in os.environ,
        in_ci=os.environ.get("CI", "").lower() in ("1", "true", "yes"),
        interactive=interactive,
    )


AUTO = "auto"


class ParallelismType(click.ParamType):
    """``--parallelism``: a whole number from 1 to 256, or ``auto``."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) or value == AUTO:
            return value
        text = str(value).strip().lower()
        if text == AUTO:
            return AUTO
        try:
            number = int(text)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor 'auto'.", param, ctx)
        if not 1 <= number <= 256:
            self.fail(f"{number} is not in the range 1<=x<=256 (or use 'auto').", param, ctx)
        return number


def lock_wait_words(message: str) -> str:
    """A lock-wait notice from the state store, naming the option that sets the wait."""
    return f"{message.removesuffix('…')} (--lock-timeout)…"


def now() -> str:
    """The current time, for records and saved plans."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def run(coro_fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Run an async command body to completion."""

    @functools.wraps(coro_fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return asyncio.run(coro_fn(*args, **kwargs))

    return wrapper


def emit(text: str) -> None:
    """Write a rendered document to stdout, ending with one newline."""
    click.echo(text.rstrip("\n"))


def emit_lines(lines: Iterable[str]) -> None:
    """``emit`` of the lines joined, written a few thousand lines at a time as they come.

    A text plan of 10,000 creates is 150,000 lines: held whole (the lines, their join and
    its encoding) it was the peak of ``plan`` and ``apply``. Empty lines at the end are
    dropped, as ``emit`` drops them.
    """
    chunk: list[str] = []
    blanks = 0
    for line in lines:
        if not line:
            blanks += 1
            continue
        chunk.extend([""] * blanks)
        blanks = 0
        chunk.append(line)
        if len(chunk) >= 2000:
            click.echo("\n".join(chunk))
            chunk = []
    if chunk:
        click.echo("\n".join(chunk))


def warn(err: Console, message: str) -> None:
    """A warning on stderr."""
    err.print(f"Warning: {message}", markup=False, highlight=False, style="yellow")

"""The command line: wires loader, client, planner, applier and renderers.

Commands live one per module in this package; this module builds the group and
is the one place where a ``ReconcilerError`` becomes a message and an exit code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Any

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.render.remedies import describe


class _Group(click.Group):
    """Turns our errors into one line on stderr and an exit code, never a traceback."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _as_error(exc) from None

    def invoke(self, ctx: click.Context) -> object:
        try:
            if threading.current_thread() is threading.main_thread():
                # The entry point exits quietly on SIGINT while starting; from here on,
                # KeyboardInterrupt (below, and asyncio's own handling) takes over.
                signal.signal(signal.SIGINT, signal.default_int_handler)
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _as_error(exc) from None
        except ReconcilerError as exc:
            click.echo(f"Error: {describe(exc)}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # The reader went away (`reconciler state list | head`): nothing to report, and
            # stdout goes to /dev/null so that flushing it at exit does not fail again.
            with contextlib.suppress(OSError, ValueError):  # stdout without a descriptor
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            # A bug of ours: still one line, and the traceback only when asked for.
            if os.environ.get("RECONCILER_DEBUG"):
                raise
            click.echo(
                f"Error: internal error ({type(exc).__name__}: {exc}). This is a bug in "
                "reconciler; rerun with RECONCILER_DEBUG=1 to see the traceback and report it.",
                err=True,
            )
            sys.exit(1)


def _as_error(exc: click.UsageError) -> click.UsageError:
    # Click exits 2 on a usage error, but 2 means "changes" to plan --detailed-exitcode and
    # "drift" to drift, which CI acts on: a mistyped option must fail the job, so it is 1.
    exc.exit_code = 1
    return exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def main() -> None:
    """GitOps for an AI-model catalog: validate, plan, apply, drift."""


def _register() -> None:
    # Imported here so that each command module may import from this package.
    from reconciler.cli import adopt, apply, drift, plan, serve, state_cmd, validate

    main.add_command(validate.validate)
    main.add_command(validate.schema)
    main.add_command(plan.plan)
    main.add_command(plan.show)
    main.add_command(apply.apply)
    main.add_command(drift.drift)
    main.add_command(adopt.adopt)
    main.add_command(state_cmd.import_)
    main.add_command(state_cmd.state)
    main.add_command(serve.serve)


_register()

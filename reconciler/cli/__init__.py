"""The command line: wires loader, client, planner, applier and renderers.

Commands live one per module in this package; this module builds the group and
is the one place where a ``ReconcilerError`` becomes a message and an exit code.
"""

from __future__ import annotations

import os
import sys

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError


class _Group(click.Group):
    """Turns our errors into one line on stderr and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ReconcilerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def main() -> None:
    """GitOps for an AI-model catalog: validate, plan, apply, drift."""


def _register() -> None:
    # Imported here so that each command module may import from this package.
    from reconciler.cli import apply, drift, plan, serve, state_cmd, validate

    main.add_command(validate.validate)
    main.add_command(validate.schema)
    main.add_command(plan.plan)
    main.add_command(plan.show)
    main.add_command(apply.apply)
    main.add_command(drift.drift)
    main.add_command(state_cmd.import_)
    main.add_command(state_cmd.state)
    main.add_command(serve.serve)


_register()

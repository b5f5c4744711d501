"""The command line: wires loader, client, planner, applier and renderers.

Commands live one per module in this package; this module builds the group and
is the one place where a ``ReconcilerError`` becomes a message and an exit code.

A command's module is imported only when that command runs: ``reconciler --help``
and ``reconciler validate`` must not pay for the HTTP stack, the server, FastAPI
or DeepDiff (see ``COMMANDS`` and tests/test_cli_imports.py).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
from typing import Any

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError

# Command name -> (module in this package, attribute, first paragraph of its help). The
# help is written here so that listing the commands imports none of them; a test checks
# that each is its command's own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "adopt": (
        "adopt",
        "adopt",
        "Rewrite the manifests to the catalog's drifted values: exit 0 adopted, 3 nothing, "
        "1 error.",
    ),
    "apply": ("apply", "apply", "Apply the manifests to the catalog (PATHS default: manifests/)."),
    "drift": (
        "drift",
        "drift",
        "Exit 0 when the catalog matches the manifests, 2 when it drifted, 1 on error.",
    ),
    "import": (
        "state_cmd",
        "import_",
        "Adopt the existing draft DRAFT_ID into the state as model KEY, after reading it.",
    ),
    "plan": ("plan", "plan", "Show what apply would change, and why (PATHS default: manifests/)."),
    "schema": (
        "validate",
        "schema",
        "Print the JSON Schema of a manifest document, for editors (see docs/manifests.md).",
    ),
    "serve": (
        "serve",
        "serve",
        "Run the local catalog server (POST /model/draft) over a SQLite file.",
    ),
    "show": ("plan", "show", "Render a plan saved with `reconciler plan --out FILE`."),
    "state": ("state_cmd", "state", "Inspect or edit the state: which draft each model is."),
    "unstage": (
        "unstage",
        "unstage",
        "Reject the still-pending proposals PLAN_FILE staged (`plan --stage --out`); idempotent.",
    ),
    "validate": (
        "validate",
        "validate",
        "Check the manifests under PATHS (default: manifests/) offline; exit 1 on any problem.",
    ),
}


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
            # Imported only now: it pulls in the plan model, which --help must not build.
            from reconciler.render.remedies import describe

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


class _LazyGroup(_Group):
    """The ``reconciler`` group: its commands are imported from ``COMMANDS`` when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute, _ = entry
        module = importlib.import_module(f"{__name__}.{module_name}")
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Click would load every command for its help line; the table has them.
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, short_help(name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def short_help(name: str, limit: int) -> str:
    """The help line ``--help`` lists for command ``name``, cut to ``limit`` as click would."""
    return click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)


def _as_error(exc: click.UsageError) -> click.UsageError:
    # Click exits 2 on a usage error, but 2 means "changes" to plan --detailed-exitcode and
    # "drift" to drift, which CI acts on: a mistyped option must fail the job, so it is 1.
    exc.exit_code = 1
    return exc


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def main() -> None:
    """GitOps for an AI-model catalog: validate, plan, apply, drift."""

"""``reconciler validate`` and ``reconciler schema``: offline checks of the manifests."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import click

from reconciler.manifests.loader import load_report
from reconciler.manifests.schema import manifest_json_schema_text
from reconciler.render.validation import render_annotations, render_json, render_text

DEFAULT_MANIFESTS = Path("manifests")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one document for tools on stdout.",
)
def validate(paths: tuple[Path, ...], output_format: str) -> None:
    """Check the manifests under PATHS (default: manifests/) offline; exit 1 on any problem.

    Under GitHub Actions (GITHUB_ACTIONS=true) each problem is also printed as an
    ::error annotation, so it shows on the pull request's diff.
    """
    _collect_rarely()
    report = load_report(list(paths) or [DEFAULT_MANIFESTS])
    in_github = os.environ.get("GITHUB_ACTIONS") == "true"
    if output_format == "json":
        click.echo(render_json(report), nl=False)
    else:
        click.echo(render_text(report), nl=False)
    if in_github and report.problems:
        # Keep stdout a pure JSON document; the runner reads commands from stderr too.
        click.echo(render_annotations(report), nl=False, err=output_format == "json")
    if report.problems:
        sys.exit(1)


def _collect_rarely() -> None:
    """Pause the cyclic garbage collector until the command ends.

    ``validate`` is one thread reading documents that are all kept until the report
    is shown, and it makes no garbage cycles (a failed document leaves at most a
    few), so every pass of the collector walks what was read and frees nothing: with
    the loader's raised thresholds its young passes still cost 0.09 s of CPU at
    10,000 manifests, and, thresholds restored to the defaults after the load, the
    next allocation walked all that was read once more (0.18 s). The collector is
    enabled again, if it was, when the command ends, for a caller that runs it
    in-process.
    """
    if gc.isenabled():
        gc.disable()
        click.get_current_context().call_on_close(gc.enable)


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to this file instead of stdout.",
)
def schema(out: Path | None) -> None:
    """Print the JSON Schema of a manifest document, for editors (see docs/manifests.md)."""
    text = manifest_json_schema_text()
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
    click.echo(f"Wrote the manifest JSON Schema to {out}.", err=True)

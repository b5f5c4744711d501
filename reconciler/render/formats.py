"""The one registry of output formats: each name with its plan and apply-result renderers.

Every command that takes ``--format`` offers ``FORMAT_NAMES`` and renders through
``render_plan`` / ``render_outcomes``; adding a format is one entry here and its
module beside this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.planning.plan import Plan
from reconciler.render import json_format, markdown, text

if TYPE_CHECKING:
    from reconciler.apply.applier import ApplyResult


@dataclass(frozen=True)
class RenderOptions:
    """How to render: colour (text only), and the wording a command gives its document."""

    color: bool = False
    # A Markdown document's title, and the heading of the text plan's actions.
    title: str = markdown.DEFAULT_TITLE
    actions_heading: str = text.ACTIONS_HEADING
    # Whether the text result lists each model (not when a progress bar already said them).
    per_model: bool = True


@dataclass(frozen=True)
class OutputFormat:
    """A format: how it renders a plan and how it renders an apply's result."""

    plan: Callable[[Plan, RenderOptions], str]
    outcomes: Callable[[ApplyResult, RenderOptions], str]


def _outcomes(name: str) -> Callable[[ApplyResult, RenderOptions], str]:
    # Imported when used: the result's types come with the applier, which plan does not need.
    def render(result: ApplyResult, options: RenderOptions) -> str:
        from reconciler.render import outcomes

        if name == "text":
            return outcomes.render_text(result, per_model=options.per_model)
        return outcomes.render_json(result) if name == "json" else outcomes.render_markdown(result)

    return render


FORMATS: dict[str, OutputFormat] = {
    "text": OutputFormat(
        plan=lambda plan, o: text.render_text(
            plan, color=o.color, actions_heading=o.actions_heading
        ),
        outcomes=_outcomes("text"),
    ),
    "json": OutputFormat(
        plan=lambda plan, o: json_format.render_json(plan), outcomes=_outcomes("json")
    ),
    "markdown": OutputFormat(
        plan=lambda plan, o: markdown.render_markdown(plan, title=o.title),
        outcomes=_outcomes("markdown"),
    ),
}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


def output_format(name: str) -> OutputFormat:
    """The format called ``name``, or a ValueError naming the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown format {name!r}; expected one of {', '.join(FORMAT_NAMES)}"
        ) from None


def render_plan(plan: Plan, fmt: str, options: RenderOptions | None = None) -> str:
    """The plan in format ``fmt``."""
    return output_format(fmt).plan(plan, options or RenderOptions())


def render_outcomes(result: ApplyResult, fmt: str, options: RenderOptions | None = None) -> str:
    """An apply's result in format ``fmt``."""
    return output_format(fmt).outcomes(result, options or RenderOptions())

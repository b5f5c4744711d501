"""Renderers: one module per output format, each fed the same ``Plan``."""

from __future__ import annotations

from typing import Literal

from reconciler.planning.plan import Plan
from reconciler.render.json_format import plan_document, render_json
from reconciler.render.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from reconciler.render.text import render_text

Format = Literal["text", "json", "markdown"]
FORMATS: tuple[Format, ...] = ("text", "json", "markdown")

__all__ = [
    "FORMATS",
    "GITHUB_COMMENT_LIMIT",
    "Format",
    "plan_document",
    "render",
    "render_json",
    "render_markdown",
    "render_text",
]


def render(plan: Plan, fmt: Format, *, color: bool = False) -> str:
    """The plan in the given format (colour applies to text only)."""
    if fmt == "text":
        return render_text(plan, color=color)
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan)
    raise ValueError(f"unknown plan format {fmt!r}; expected one of {', '.join(FORMATS)}")

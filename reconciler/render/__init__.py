"""Renderers: one module per output format, each fed the same ``Plan``.

The formats are registered once, in ``formats``; ``render`` is the plan's dispatch.
Also here: the apply result (``outcomes``), validation reports (``validation``) and
the words of remedies and warnings (``remedies``).
"""

from __future__ import annotations

from reconciler.planning.plan import Plan
from reconciler.render.formats import FORMAT_NAMES, RenderOptions, render_plan
from reconciler.render.json_format import plan_document, render_json
from reconciler.render.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from reconciler.render.text import render_text

FORMATS = FORMAT_NAMES

__all__ = [
    "FORMATS",
    "GITHUB_COMMENT_LIMIT",
    "RenderOptions",
    "plan_document",
    "render",
    "render_json",
    "render_markdown",
    "render_plan",
    "render_text",
]


def render(plan: Plan, fmt: str, *, color: bool = False) -> str:
    """The plan in the given format (colour applies to text only)."""
    return render_plan(plan, fmt, RenderOptions(color=color))

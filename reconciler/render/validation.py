"""Renders a manifest load report: text lines, a JSON document, GitHub annotations.

Annotations are GitHub's workflow commands (``::error file=...::message``), so
each problem shows on the pull request's diff; their values are escaped as the
runner expects (``%``, CR and LF everywhere, and ``:`` and ``,`` in properties).
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.errors import ManifestProblem
from reconciler.manifests.loader import LoadReport

FORMAT_VERSION = 1


def render_text(report: LoadReport) -> str:
    """One ``file:line:column: path: message`` line per problem, then a summary line."""
    lines = [str(problem) for problem in report.problems]
    files = _count(len(report.files), "file")
    if report.problems:
        broken = len({problem.file for problem in report.problems})
        problems = _count(len(report.problems), "problem")
        lines.append(f"{problems} in {_count(broken, 'file')} ({files} read).")
    else:
        lines.append(f"{_count(len(report.models), 'model')} valid in {files}.")
    return "\n".join(lines) + "\n"


def json_document(report: LoadReport) -> dict[str, Any]:
    """The report as a JSON-ready document for tools."""
    return {
        "format_version": FORMAT_VERSION,
        "valid": not report.problems,
        "files": len(report.files),
        "models": len(report.models),
        "problems": [
            {
                "file": problem.file,
                "line": problem.line,
                "column": problem.column,
                "path": problem.path,
                "message": problem.message,
            }
            for problem in report.problems
        ],
    }


def render_json(report: LoadReport) -> str:
    """The JSON document as indented text ending with a newline."""
    return json.dumps(json_document(report), indent=2, ensure_ascii=False) + "\n"


def github_annotation(problem: ManifestProblem) -> str:
    """The ``::error`` workflow command that shows ``problem`` on the pull request's diff."""
    properties = ",".join(
        f"{name}={escape_property(str(value))}"
        for name, value in (
            ("file", problem.file),
            ("line", problem.line),
            ("col", problem.column),
            ("title", "reconciler validate"),
        )
    )
    message = f"{problem.path}: {problem.message}" if problem.path else problem.message
    return f"::error {properties}::{escape_data(message)}"


def render_annotations(report: LoadReport) -> str:
    """One annotation line per problem ("" when there are none)."""
    return "".join(github_annotation(problem) + "\n" for problem in report.problems)


def escape_data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"

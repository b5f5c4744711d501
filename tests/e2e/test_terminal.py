"""apply on a terminal: it shows the plan and applies only after the answer ``yes``."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import Workspace
from tests.e2e.test_apply import GPT


def _run_on_terminal(ws: Workspace, args: list[str], answer: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout/stderr and answer its prompt."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=ws.root,
        env={**os.environ, **ws.env(), "CI": "", "COLUMNS": "120"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    screen, answered = b"", False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        if not answered and b"Enter a value" in screen:
            os.write(controller, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    os.close(controller)
    process.wait(10)
    return process.returncode, screen.decode(errors="replace")


@pytest.mark.parametrize(("answer", "applied"), [("yes", True), ("no", False)])
def test_apply_on_a_terminal_asks_and_applies_only_on_yes(workspace, answer, applied):
    workspace.write_models(GPT)
    code, screen = _run_on_terminal(workspace, ["apply"], answer)
    assert "+ create gpt-4o-mini" in screen
    assert "Only 'yes' will be accepted" in screen
    if applied:
        assert code == 0, screen
        assert "Apply complete: 1 created" in screen
        assert len(workspace.catalog.drafts()) == 1
    else:
        assert code == 1, screen
        assert "cancelled" in screen
        assert workspace.catalog.drafts() == {}

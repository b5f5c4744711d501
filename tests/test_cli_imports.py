"""Start-up: each command imports only what it uses (which modules, not how long)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from reconciler.cli import COMMANDS, main, short_help

CATALOG = Path(__file__).resolve().parent.parent / "manifests"
# Top-level packages only a catalog command, or the server, needs.
NETWORK_AND_SERVER = ("httpx", "httpx_aiohttp", "aiohttp", "fastapi", "starlette", "uvicorn")
PLANNING = ("deepdiff",)

# The command line as the entry point runs it, but returning: the entry point itself
# imports nothing more (``reconciler.__main__``) and exits without returning.
_PROBE = """
import json, sys
import reconciler.__main__
from reconciler.cli import main
try:
    main(json.loads(sys.argv[1]), prog_name="reconciler")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_imported_by(*args: str) -> set[str]:
    """The modules loaded by the end of ``reconciler ARGS``, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in packages)


def test_help_imports_no_command_no_http_stack_and_no_pydantic():
    modules = _modules_imported_by("--help")
    assert "reconciler.cli" in modules
    assert _loaded(modules, (*NETWORK_AND_SERVER, *PLANNING, "pydantic", "rich", "yaml")) == []
    assert sorted(m for m in modules if m.startswith("reconciler.cli.")) == []


def test_validate_imports_neither_the_http_stack_nor_the_server_nor_deepdiff():
    modules = _modules_imported_by("validate", str(CATALOG))
    assert "reconciler.manifests.loader" in modules
    assert _loaded(modules, (*NETWORK_AND_SERVER, *PLANNING, "rich")) == []
    assert not {m for m in modules if m.startswith("reconciler.server")}
    assert not {m for m in modules if m.startswith("reconciler.apply")}
    assert "reconciler.catalog.client" not in modules


def test_plan_loads_the_http_stack_but_not_the_server_when_given_an_endpoint():
    # --help of a command loads its module; plan's module must not pull in FastAPI.
    modules = _modules_imported_by("plan", "--help")
    assert "reconciler.cli.plan" in modules
    assert _loaded(modules, ("fastapi", "starlette", "uvicorn")) == []
    # httpx is imported without its own command-line client (pygments, rich's syntax view).
    assert "httpx" in modules
    assert _loaded(modules, ("pygments",)) == []
    assert "httpx._main" not in modules


def test_httpx_s_command_line_client_can_still_be_imported_after_the_catalog():
    code = "import reconciler.catalog, httpx._main, httpx; print(httpx._main.main.name)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "main"


def test_plan_imports_what_it_stages_with_only_with_stage_and_deepdiff_only_for_a_change(
    tmp_path,
):
    # The example catalog against an empty state: every model a create, nothing staged.
    state = str(tmp_path / "state.json")
    modules = _modules_imported_by("plan", "--refresh=false", "--state", state, str(CATALOG))
    assert "reconciler.planning.planner" in modules
    assert "reconciler.apply.keys" not in modules
    assert "reconciler.apply.stage" not in modules
    assert _loaded(modules, PLANNING) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_help_line_is_the_commands_own(name):
    listed = COMMANDS[name][2]
    command = main.get_command(click.Context(main), name)
    assert command is not None
    assert command.name == name
    assert (command.help or "").split("\n\n")[0] == listed
    for limit in (30, 45, 80, 200):
        assert short_help(name, limit) == command.get_short_help_str(limit)


def test_help_lists_every_command_and_an_unknown_one_is_refused():
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"\n  {name} " in result.output
    assert main.get_command(click.Context(main), "plna") is None

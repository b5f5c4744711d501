"""requirements-lock.txt: the exact, hashed versions that CI and the workflows install.

pyproject.toml keeps version ranges for the library's users; the lock pins one version
of everything inside them, with the hash of each file, so every run installs what was
tested. These checks are offline: they compare the lock with pyproject.toml as
pip-compile annotates it (each pin says which requirement brought it in), so a
requirement added, removed or narrowed without refreshing the lock fails here.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-lock.txt"
PYPROJECT = ROOT / "pyproject.toml"
README = ROOT / "README.md"

# The one command that writes the lock (README, "Set up"); the lock's header records it.
REFRESH = (
    "pip-compile --all-build-deps --allow-unsafe --extra=dev --generate-hashes "
    "--output-file=requirements-lock.txt --strip-extras pyproject.toml"
)
FROM_PYPROJECT = "reconciler (pyproject.toml)"
FROM_BUILD_SYSTEM = "reconciler (pyproject.toml::build-system.requires)"


@dataclass
class Pin:
    name: str
    version: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def parse_lock(text: str) -> dict[str, Pin]:
    """The pins of a pip-compile output, each with its hashes and what brought it in."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        stripped = line.strip()
        pinned = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", line)
        if pinned:
            current = Pin(canonicalize_name(pinned[1]), pinned[2])
            pins[current.name] = current
        elif current is not None and stripped.startswith("--hash="):
            current.hashes.append(stripped.removeprefix("--hash=").rstrip(" \\"))
        elif current is not None and re.match(r"^#\s+via\s+\S", stripped):
            current.via.append(stripped.split("via", 1)[1].strip())
        elif current is not None and re.match(r"^#\s{3,}\S", stripped):
            current.via.append(stripped.lstrip("# ").strip())
    return pins


def declared() -> tuple[list[Requirement], list[Requirement]]:
    """pyproject.toml's requirements (runtime and the dev extra) and its build requirements."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    runtime = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
    ]
    build = project["build-system"]["requires"]
    return [Requirement(r) for r in runtime], [Requirement(r) for r in build]


def lock_problems(pins: dict[str, Pin]) -> list[str]:
    """Where the lock no longer matches pyproject.toml."""
    runtime, build = declared()
    problems = []
    for requirements, source in ((runtime, FROM_PYPROJECT), (build, FROM_BUILD_SYSTEM)):
        for requirement in requirements:
            pin = pins.get(canonicalize_name(requirement.name))
            if pin is None:
                problems.append(f"{requirement} is not in the lock")
            elif not requirement.specifier.contains(pin.version, prereleases=True):
                problems.append(f"{requirement} excludes the locked {pin.name}=={pin.version}")
            elif source not in pin.via:
                problems.append(f"{pin.name} is locked, but not as {requirement} from pyproject")
        wanted = {canonicalize_name(r.name) for r in requirements}
        for pin in pins.values():
            if source in pin.via and pin.name not in wanted:
                problems.append(f"{pin.name} is locked for pyproject.toml, which no longer asks")
    for pin in pins.values():
        # A pin that nothing in the lock or pyproject brings in any more is stale.
        for via in pin.via:
            if (
                via not in (FROM_PYPROJECT, FROM_BUILD_SYSTEM)
                and canonicalize_name(via) not in pins
            ):
                problems.append(f"{pin.name} is locked for {via}, which is not in the lock")
        if not pin.hashes:
            problems.append(f"{pin.name}=={pin.version} has no hash")
    return problems


def test_the_lock_matches_pyproject():
    problems = lock_problems(parse_lock(LOCK.read_text(encoding="utf-8")))
    assert problems == [], (
        "requirements-lock.txt no longer matches pyproject.toml; refresh it with the command "
        "in README.md (Set up):\n" + "\n".join(problems)
    )


def test_every_line_of_the_lock_is_a_hashed_pin_or_a_comment():
    text = LOCK.read_text(encoding="utf-8")
    for line in text.splitlines():
        stripped = line.strip()
        assert (
            not stripped
            or stripped.startswith("#")
            or re.match(r"^[A-Za-z0-9._-]+==\S+ \\$", line)
            or re.match(r"^--hash=sha256:[0-9a-f]{64}( \\)?$", stripped)
        ), f"unexpected line in the lock: {line!r}"
    # No index, find-links or local path: only the default index's files and hashes.
    assert not re.search(r"--(?:extra-)?index-url|--find-links|file://|/opt/", text)


def test_the_lock_says_how_it_was_made_and_the_readme_gives_that_command():
    text = LOCK.read_text(encoding="utf-8")
    assert f"#    {REFRESH}\n" in text
    assert REFRESH in README.read_text(encoding="utf-8")


def test_the_build_backend_is_locked_for_an_install_without_build_isolation():
    pins = parse_lock(LOCK.read_text(encoding="utf-8"))
    assert FROM_BUILD_SYSTEM in pins["setuptools"].via


# --- the check itself -----------------------------------------------------------------------


def _lock(*entries: tuple[str, str, list[str]]) -> str:
    return "".join(
        f"{name}=={version} \\\n    --hash=sha256:{'a' * 64}\n"
        + "    # via\n"
        + "".join(f"    #   {via}\n" for via in vias)
        for name, version, vias in entries
    )


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A pyproject.toml of one runtime requirement, one dev one and setuptools."""
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\n'
        '[project]\ndependencies = ["click>=8.1"]\n'
        '[project.optional-dependencies]\ndev = ["pytest>=8"]\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(f"{__name__}.PYPROJECT", path)
    return path


GOOD = [
    ("click", "8.5.1", [FROM_PYPROJECT]),
    ("pytest", "9.2.0", [FROM_PYPROJECT]),
    ("pluggy", "1.7.0", ["pytest"]),
    ("setuptools", "84.2.1", [FROM_BUILD_SYSTEM]),
]


def test_a_matching_lock_has_no_problems(project):
    assert lock_problems(parse_lock(_lock(*GOOD))) == []


def test_a_requirement_added_to_pyproject_without_a_refresh_is_found(project):
    project.write_text(
        project.read_text(encoding="utf-8").replace('"click>=8.1"', '"click>=8.1", "rich>=13"'),
        encoding="utf-8",
    )
    assert lock_problems(parse_lock(_lock(*GOOD))) == ["rich>=13 is not in the lock"]


def test_a_requirement_removed_from_pyproject_leaves_a_stale_pin_that_is_found(project):
    project.write_text(
        project.read_text(encoding="utf-8").replace('dev = ["pytest>=8"]', "dev = []"),
        encoding="utf-8",
    )
    assert lock_problems(parse_lock(_lock(*GOOD))) == [
        "pytest is locked for pyproject.toml, which no longer asks"
    ]


def test_a_narrowed_range_that_excludes_the_pin_is_found(project):
    project.write_text(
        project.read_text(encoding="utf-8").replace("click>=8.1", "click>=9"), encoding="utf-8"
    )
    assert lock_problems(parse_lock(_lock(*GOOD))) == ["click>=9 excludes the locked click==8.5.1"]


def test_an_orphaned_or_unhashed_pin_is_found(project):
    orphan = [*GOOD, ("six", "1.0", ["gone"])]
    assert lock_problems(parse_lock(_lock(*orphan))) == [
        "six is locked for gone, which is not in the lock"
    ]
    unhashed = _lock(*GOOD) + "extra==1.0\n    # via click\n"
    assert lock_problems(parse_lock(unhashed)) == ["extra==1.0 has no hash"]

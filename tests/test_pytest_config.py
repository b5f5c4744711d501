"""How the suite itself runs: plain ``pytest`` as well as ``python -m pytest``, and Hypothesis."""

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent


def test_plain_pytest_collects_tests_that_import_the_benchmarks():
    # `python -m pytest` puts the working directory on sys.path; the `pytest` script
    # does not, so only pyproject's `pythonpath` lets it import `benchmarks`.
    pytest_script = Path(sys.executable).parent / "pytest"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    args = ["--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_yaml_strict.py"]
    result = subprocess.run(
        [str(pytest_script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_yaml_strict.py::" in result.stdout


def test_hypothesis_is_derandomized_exactly_in_ci():
    in_ci = os.environ.get("CI") == "true"
    assert settings().derandomize is in_ci
    assert (settings().database is None) is in_ci

"""Wall time and peak memory of validate, plan and apply for a large catalog.

Generates N models (with Defaults, pricing, label lists) in a temporary
repository, starts ``reconciler serve`` on a loopback port in its own process,
then runs the CLI as a separate process for each step and reads its peak RSS
from the kernel (``wait4``):

1. ``validate``               (manifests only, offline)
2. ``plan`` before any apply  (N creates; refresh reads nothing)
3. ``apply --auto-approve``   (N soft patches + N acks)
4. ``plan`` after the apply   (N reads, N no-op diffs)
5. ``plan`` with one change   (N reads, one field-level diff)

    .venv/bin/python benchmarks/plan_scale.py --models 1000 --parallelism 10
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROVIDERS = ["OpenAI", "Anthropic", "Google", "Mistral", "Meta", "Cohere"]
DEPARTMENTS = ["Research", "Support", "Sales", "Engineering", "Legal", "Marketing"]


def write_catalog(root: Path, count: int) -> None:
    """``count`` models spread over one folder per provider, each with a Defaults file."""
    for p, provider in enumerate(PROVIDERS):
        folder = root / "manifests" / provider.lower()
        folder.mkdir(parents=True)
        defaults = {
            "apiVersion": "reconciler/v1",
            "kind": "Defaults",
            "spec": {
                "provider": provider,
                "departments": DEPARTMENTS[p % 3 : p % 3 + 3],
                "modalities_enabled": True,
                "pricing_enabled": True,
            },
        }
        (folder / "_defaults.yaml").write_text(yaml.safe_dump(defaults))
    for i in range(count):
        provider = PROVIDERS[i % len(PROVIDERS)]
        doc = {
            "apiVersion": "reconciler/v1",
            "kind": "Model",
            "metadata": {"key": f"{provider.lower()}-model-{i:05d}"},
            "spec": {
                "name": f"{provider} Model {i}",
                "description": f"Benchmark model number {i}",
                "value": f"model-{i}",
                "modalities": ["text", "image"] if i % 2 else ["text"],
                "reasoning_levels": ["low", "medium", "high"],
                "pricing": [
                    {
                        "label": "input",
                        "unit": "1M tokens",
                        "amount": f"{i % 7}.15",
                        "currency": "USD",
                    },
                    {
                        "label": "output",
                        "unit": "1M tokens",
                        "amount": f"{i % 5}.60",
                        "currency": "USD",
                    },
                ],
            },
        }
        path = root / "manifests" / provider.lower() / f"model-{i:05d}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(root: Path, env: dict[str, str], *args: str) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and exit code of one CLI run."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        raise SystemExit(f"reconciler {' '.join(args)} failed: {process.stderr.read().decode()}")
    process.stderr.close()
    return elapsed, usage.ru_maxrss / 1024, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog(root, args.models)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "serve",
                "--port",
                str(port),
                "--db",
                str(root / "catalog.sqlite3"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the catalog server did not start") from None
                    time.sleep(0.05)
            env = {**os.environ, "CATALOG_ENDPOINT": f"http://127.0.0.1:{port}", "CI": "true"}
            par = ["--parallelism", str(args.parallelism)]
            steps = [
                ("validate", ["validate"]),
                ("plan (all creates)", ["plan", *par]),
                ("apply (all creates)", ["apply", "--auto-approve", *par]),
                ("plan (no changes)", ["plan", *par]),
            ]
            results = [(label, *run(root, env, *cmd)) for label, cmd in steps]
            target = next((root / "manifests" / "openai").glob("model-*.yaml"))
            target.write_text(target.read_text().replace("Benchmark model", "Changed model"))
            results.append(("plan (one change)", *run(root, env, "plan", *par)))
        finally:
            server.terminate()
            server.wait(10)
    print(
        f"{args.models} models, parallelism {args.parallelism}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{'step':<22} {'seconds':>8} {'models/s':>9} {'peak MiB':>9}")
    for label, seconds, rss, _ in results:
        print(f"{label:<22} {seconds:>8.2f} {args.models / seconds:>9.0f} {rss:>9.1f}")


if __name__ == "__main__":
    main()

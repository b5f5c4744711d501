"""Wall time and peak memory of validate, plan and apply for a large catalog.

Generates N models (with Defaults, pricing, label lists) in a temporary
repository, starts ``reconciler serve`` on a loopback port in its own process,
then runs the CLI as a separate process for each step and reads its peak RSS
from the kernel (``wait4``):

1. ``validate``               (manifests only, offline)
2. ``plan`` before any apply  (N creates; refresh reads nothing)
3. ``apply --auto-approve``   (N soft patches + N acks)
4. ``plan`` after the apply   (N reads, N no-op diffs)
5. ``drift``                  (N reads, nothing drifted)
6. ``plan`` with one change   (N reads, one field-level diff)
7. ``plan --refresh=changed`` (one read: the changed model)

then the floor, a bare aiohttp client (``benchmarks/bare_client.py``) making the
same N reads and N creates (soft patch + ack) in the same run, and the ratios of
reconciler's CPU and wall time to it. Quote medians of several runs: the machine
has 2 shared cores.

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
from dataclasses import dataclass
from pathlib import Path

import yaml

BARE_CLIENT = str(Path(__file__).with_name("bare_client.py"))
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


@dataclass(frozen=True)
class Step:
    """One process's figures, from the kernel."""

    label: str
    seconds: float
    cpu: float
    rss_mib: float


def run(
    root: Path,
    env: dict[str, str],
    label: str,
    *args: str,
    script: str = "",
    ok: tuple[int, ...] = (0, 2),
) -> Step:
    """Run one process to the end; its wall time, CPU (user + system) and peak RSS.

    An exit code not in ``ok`` stops the benchmark with the child's last words.

    The child's stderr goes to a file, not a pipe: a pipe read only after the child
    exits fills up (64 KiB) and blocks the child forever, as progress lines did at
    10,000 models.
    """
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, script, *args]
            if script
            else [sys.executable, "-m", "reconciler", *args],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            stderr.seek(0)
            tail = stderr.read()[-4000:].decode(errors="replace")
            raise SystemExit(f"{script or 'reconciler'} {' '.join(args)} failed ({code}): {tail}")
    return Step(label, elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def start_server(root: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``reconciler serve`` on a loopback port, its own process; returns once it listens."""
    db = root / "catalog.sqlite3"
    server = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", str(port), "--db", str(db), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.terminate()
                raise SystemExit("the catalog server did not start") from None
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--parallelism", default="10")
    args = parser.parse_args()
    n = args.models
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog(root, n)
        port = free_port()
        server = start_server(root, port)
        try:
            endpoint = f"http://127.0.0.1:{port}"
            env = {**os.environ, "CATALOG_ENDPOINT": endpoint, "CI": "true"}
            par = ["--parallelism", str(args.parallelism)]
            steps = [
                ("validate", ["validate"]),
                ("plan (all creates)", ["plan", *par]),
                ("apply (all creates)", ["apply", "--auto-approve", *par]),
                ("plan (no changes)", ["plan", *par]),
                ("drift (no drift)", ["drift", *par]),
            ]
            results = [run(root, env, label, *cmd) for label, cmd in steps]
            target = next((root / "manifests" / "openai").glob("model-*.yaml"))
            target.write_text(target.read_text().replace("Benchmark model", "Changed model"))
            results.append(run(root, env, "plan (one change)", "plan", *par))
            results.append(
                run(root, env, "plan --refresh=changed", "plan", "--refresh=changed", *par)
            )
            bare_par = ["--endpoint", endpoint, "--parallelism", "10"]
            state = str(root / "reconciler.state.json")
            floor_read = run(
                root,
                env,
                "bare client: reads",
                "read",
                "--state",
                state,
                *bare_par,
                script=BARE_CLIENT,
            )
            floor_apply = run(
                root,
                env,
                "bare client: creates",
                "apply",
                "--models",
                str(n),
                *bare_par,
                script=BARE_CLIENT,
            )
        finally:
            server.terminate()
            server.wait(10)
    print(
        f"{n} models, parallelism {args.parallelism}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    heading = ("step", "seconds", "models/s", "CPU s", "ms CPU/model", "peak MiB")
    print("{:<24} {:>8} {:>9} {:>7} {:>13} {:>9}".format(*heading))
    for step in [*results, floor_read, floor_apply]:
        print(
            f"{step.label:<24} {step.seconds:>8.2f} {n / step.seconds:>9.0f} {step.cpu:>7.2f} "
            f"{step.cpu / n * 1e3:>13.2f} {step.rss_mib:>9.1f}"
        )
    by_label = {step.label: step for step in results}
    apply_step, noop = by_label["apply (all creates)"], by_label["plan (no changes)"]
    print(
        f"apply CPU / bare creates CPU:  {apply_step.cpu / floor_apply.cpu:.2f}x\n"
        f"plan (no changes) CPU / bare reads CPU:  {noop.cpu / floor_read.cpu:.2f}x\n"
        f"plan (no changes) wall / bare reads wall:  {noop.seconds / floor_read.seconds:.2f}x"
    )


if __name__ == "__main__":
    main()

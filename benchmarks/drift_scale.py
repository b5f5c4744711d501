"""``drift`` and ``plan`` with no changes over a large applied catalog, without applying it.

Applying 100,000 models through the API (200,000 requests) would take the best
part of an hour on 2 cores, so the applied catalog is built by a bulk path that
runs the same code as an apply, minus HTTP and the two-phase write:

1. the manifests are generated as in ``plan_scale.py`` and loaded by reconciler's
   loader;
2. each model's create patch (``planning.diff.create_patch``, exactly what apply
   would send) is executed by the local catalog's own ``Catalog.execute`` in this
   process, as a plain create, against the SQLite file ``reconciler serve`` then
   serves;
3. each returned draft becomes the model's state record as the applier records
   it (``normalize_live`` of the managed fields), and the state is written by
   ``StateStore.save``.

Then ``reconciler serve`` serves that file on a loopback port, and each step runs
as its own process (wall time, CPU and peak RSS from the kernel, as in
``plan_scale.py``) next to the floor, the bare aiohttp client reading the same
drafts:

    .venv/bin/python -m benchmarks.drift_scale --models 100000 --parallelism 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.plan_scale import BARE_CLIENT, free_port, run, start_server, write_catalog


def build_applied_catalog(root: Path) -> None:
    """Create every model's draft in ``root/catalog.sqlite3`` and record it in the state."""
    # Imported here, in the --build process only: a child forked from a parent counts
    # the parent's resident memory in its peak RSS, so the measuring parent stays small.
    from reconciler.apply.state import ModelRecord, StateDocument, StateStore
    from reconciler.catalog.wire import DraftFormState
    from reconciler.manifests.loader import load_manifests
    from reconciler.planning.diff import create_patch
    from reconciler.planning.normalize import managed_fields, normalize_live
    from reconciler.server.database import Database
    from reconciler.server.operations import Catalog
    from reconciler.server.reference import load_reference_data
    from reconciler.server.request import parse_operation

    models = load_manifests([root / "manifests"])
    database = Database(root / "catalog.sqlite3", load_reference_data())
    catalog = Catalog(database)
    applied_at = datetime.now(UTC).isoformat()
    doc = StateDocument(lineage=str(uuid.uuid4()))
    try:
        for model in models:
            body = json.dumps(create_patch(model)).encode()
            outcome = catalog.execute(parse_operation(body))
            answer = json.loads(outcome.body)
            if outcome.status != 200 or not answer.get("success"):
                raise SystemExit(f"the catalog refused {model.key}: {outcome.body}")
            live = DraftFormState.model_validate(answer["form_state"])
            doc.models[model.key] = ModelRecord(
                draft_id=live.draft_id,
                last_applied=normalize_live(live, managed_fields(model)),
                applied_at=applied_at,
            )
    finally:
        database.close()
    StateStore(root / "reconciler.state.json").save(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--parallelism", default="10")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build is not None:
        build_applied_catalog(args.build)
        return
    n = args.models
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog(root, n)
        started = time.perf_counter()
        # In a process of its own: a child forked from a parent holding the models would
        # report the parent's memory as its own peak RSS.
        subprocess.run(
            [sys.executable, "-m", "benchmarks.drift_scale", "--build", str(root)],
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        setup = time.perf_counter() - started
        port = free_port()
        server = start_server(root, port)
        try:
            endpoint = f"http://127.0.0.1:{port}"
            env = {**os.environ, "CATALOG_ENDPOINT": endpoint, "CI": "true"}
            par = ["--parallelism", str(args.parallelism)]
            # Exit 0 only: a change or drift found would mean the bulk path is not what
            # an apply leaves behind.
            results = [
                run(root, env, "validate", "validate", ok=(0,)),
                run(root, env, "plan (no changes)", "plan", "--detailed-exitcode", *par, ok=(0,)),
                run(root, env, "drift (no drift)", "drift", *par, ok=(0,)),
            ]
            bare = ["--endpoint", endpoint, "--parallelism", "10"]
            state = str(root / "reconciler.state.json")
            floor = run(
                root, env, "bare client: reads", "read", "--state", state, *bare, script=BARE_CLIENT
            )
        finally:
            server.terminate()
            server.wait(10)
    print(
        f"{n} models (applied by the bulk path in {setup:.0f} s), parallelism "
        f"{args.parallelism}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    heading = ("step", "seconds", "models/s", "CPU s", "ms CPU/model", "peak MiB")
    print("{:<24} {:>8} {:>9} {:>7} {:>13} {:>9}".format(*heading))
    for step in [*results, floor]:
        print(
            f"{step.label:<24} {step.seconds:>8.2f} {n / step.seconds:>9.0f} {step.cpu:>7.2f} "
            f"{step.cpu / n * 1e3:>13.2f} {step.rss_mib:>9.1f}"
        )
    for step in results[1:]:
        print(
            f"{step.label}: CPU {step.cpu / floor.cpu:.2f}x the bare client's, "
            f"wall {step.seconds / floor.seconds:.2f}x"
        )


if __name__ == "__main__":
    main()

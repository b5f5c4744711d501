"""Per-model cost of the pure core: loading manifests, normalizing, diffing, planning.

Runs in-process with no server: the figures are what a plan spends outside I/O.

    .venv/bin/python benchmarks/core.py --models 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.plan_scale import write_catalog
from reconciler.apply.state import ModelRecord
from reconciler.catalog.wire import DraftFormState, PricingDraftValue
from reconciler.manifests.loader import HAVE_LIBYAML, load_manifests
from reconciler.manifests.model import DesiredModel
from reconciler.planning.planner import build_plan


def live_of(model: DesiredModel, draft_id: str) -> DraftFormState:
    """The live draft a catalog would report for ``model`` once applied."""
    fields = dict(model.fields)
    pricing = [
        PricingDraftValue(id=f"{draft_id}-p{i}", **entry)
        for i, entry in enumerate(fields.pop("pricing", []))
    ]
    return DraftFormState(
        draft_id=draft_id,
        pricing=pricing,
        pricing_ids=[p.id for p in pricing if p.id],
        **fields,
    )


def best(runs: int, fn: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``fn``, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n = args.models
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_catalog(root, n)
        paths = [root / "manifests"]
        load_c = best(args.runs, lambda: load_manifests(paths, libyaml=True)) if HAVE_LIBYAML else 0
        load_py = best(args.runs, lambda: load_manifests(paths, libyaml=False))
        desired = load_manifests(paths)
    records = {m.key: ModelRecord(draft_id=f"d-{i}") for i, m in enumerate(desired)}
    live = {m.key: live_of(m, records[m.key].draft_id) for m in desired}
    noop = best(args.runs, lambda: build_plan(desired, records, live))
    assert not build_plan(desired, records, live).has_changes
    renamed = [
        DesiredModel(key=m.key, fields={**m.fields, "name": m.fields["name"] + " v2"})
        for m in desired
    ]
    changed = best(args.runs, lambda: build_plan(renamed, records, live))
    print(f"{n} models, best of {args.runs}")
    if load_c:
        print(f"  load manifests (libyaml)     {load_c / n * 1e6:8.0f} us/model")
    print(f"  load manifests (pure Python) {load_py / n * 1e6:8.0f} us/model")
    print(f"  plan, every model unchanged  {noop / n * 1e6:8.0f} us/model")
    print(f"  plan, every model renamed    {changed / n * 1e6:8.0f} us/model")


if __name__ == "__main__":
    main()

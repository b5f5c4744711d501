"""What to do about an error or a warning, in the command line's own words.

The core names a remedy (``ReconcilerError.remedy``, ``Plan.unmanaged``) without
naming an option or a command; this table words it for ``reconciler``. A
remedy's words may use the error's ``remedy_args`` (``{key}``, ``{draft_id}`` ...).
"""

from __future__ import annotations

from reconciler.errors import PlanError, ReconcilerError
from reconciler.planning.plan import Plan

# Each entry is the text that follows the error's own message.
REMEDIES: dict[str, str] = {
    "force": " Review the plan, then rerun with --force to apply it anyway.",
    "resolve_conflicts": (
        " Keep the catalog's values with `reconciler adopt`, or apply without"
        " --fail-on-conflict to let git win."
    ),
    "new_plan": " Make a new plan with `reconciler plan --out FILE`.",
    "plan_with_refresh": " Make the plan again without --refresh=false.",
    "plan_catalog": " Set --endpoint / CATALOG_ENDPOINT to the plan's catalog.",
    "make_plan_file": "; make one with `reconciler plan --out FILE`",
    "check_endpoint": "; check --endpoint / CATALOG_ENDPOINT",
    "endpoint_without_credentials": (
        ": remove them from --endpoint / CATALOG_ENDPOINT and set CATALOG_TOKEN."
    ),
    "endpoint_for_embedded": " Set --endpoint / CATALOG_ENDPOINT to use a catalog server instead.",
    "set_token": " Set CATALOG_TOKEN to a valid token for this catalog.",
    "raise_lock_timeout": ", or raise --lock-timeout",
    "state_rm_to_adopt": (
        "; remove metadata.draft_id, or run `reconciler state rm {key}` to adopt {draft_id} instead"
    ),
    "state_rm_owner": (
        "; remove metadata.draft_id, or run `reconciler state rm {owner}` to manage the draft "
        "as {key}"
    ),
    "prune": "; run with --prune to deactivate it",
    "forget_key_in_copy": (
        ". Keep the key the manifests use: forget the other in the copy that has it with "
        "`reconciler state rm KEY --state FILE`, then merge again"
    ),
    "forget_one_key": (
        ". Keep the key the manifests use for that draft and forget the other: "
        "`reconciler state rm {first}` or `reconciler state rm {second}`"
    ),
    "restore_emergency_state": (
        "\nOnce the state file can be written again (disk space, permissions), restore it "
        "with `mv {emergency} {state}` and rerun `reconciler apply`: it settles what was "
        "in flight."
    ),
    "restore_state_from_output": (
        "\nOnce the state file can be written again, save the JSON above as {state} and "
        "rerun `reconciler apply`: it settles what was in flight."
    ),
}


def worded(remedy: str | None, args: dict[str, str] | None = None) -> str:
    """The words of ``remedy`` (empty for none)."""
    if remedy is None:
        return ""
    return REMEDIES[remedy].format(**(args or {}))


def describe(exc: ReconcilerError) -> str:
    """The whole message of an error: what is wrong, then what to do about it."""
    if isinstance(exc, PlanError) and exc.problems:
        return "\n".join(
            f"{problem.message}{worded(problem.remedy, dict(problem.remedy_args))}"
            for problem in exc.problems
        )
    return f"{exc}{worded(exc.remedy, dict(exc.remedy_args))}"


def own_warnings(plan: Plan) -> tuple[str, ...]:
    """The plan's own warnings (not a change's), worded."""
    unmanaged = (
        f"model {key} is in the state but has no manifest{worded('prune')}"
        for key in plan.unmanaged
    )
    return (*unmanaged, *plan.warnings)


def plan_warnings(plan: Plan) -> tuple[str, ...]:
    """Every warning of a plan as a person reads it: each change's, then the plan's own."""
    per_model = (f"{c.key}: {w}" for c in plan.changes for w in c.warnings)
    return (*per_model, *own_warnings(plan))

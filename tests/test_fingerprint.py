"""``live_fingerprint`` gives the digest of the draft's canonical JSON, as it always has: the
fingerprint is in every change's idempotency key and saved plan, so a faster way to make it
must make exactly the same one."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from reconciler.catalog.wire import DraftFormState, PricingDraftValue
from reconciler.planning.normalize import canonical_json, live_fingerprint

# Every code point but the surrogates (which no JSON text parses into a str), weighted to
# the ones JSON escapes: quotes, backslashes and control characters.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from('"\\/\x00\x1f\x7f\n\t\u2028\u00e9\U0001f600'),
        st.characters(blacklist_categories=("Cs",)),
    )
)
LISTS = st.lists(TEXT, max_size=4)


def reference(draft: DraftFormState) -> str:
    """The fingerprint as it was first defined."""
    text = canonical_json(draft.model_dump(mode="json", exclude={"pending_ids"}))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


entries = st.builds(
    PricingDraftValue,
    id=st.none() | TEXT,
    label=TEXT,
    unit=TEXT,
    amount=TEXT,
    currency=TEXT,
)
drafts = st.builds(
    DraftFormState,
    draft_id=TEXT,
    revision=st.none() | st.integers(min_value=-(2**70), max_value=2**70),
    name=st.none() | TEXT,
    description=st.none() | TEXT,
    provider_id=st.none() | TEXT,
    flag_ids=LISTS,
    active=st.booleans(),
    voices_enabled=st.booleans(),
    departments=LISTS,
    reasoning_level_ids=LISTS,
    pricing=st.lists(entries, max_size=3),
    pricing_ids=LISTS,
    pending_ids=LISTS,
)


@given(drafts)
def test_the_fingerprint_is_the_digest_of_the_drafts_canonical_json(draft):
    assert live_fingerprint(draft) == reference(draft)


def test_every_code_point_is_written_as_canonical_json_writes_it():
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    draft = DraftFormState(draft_id="d-1", name=text, departments=[text, "é"])
    assert live_fingerprint(draft) == reference(draft)


def test_a_draft_with_defaults_and_one_with_every_field_set():
    assert live_fingerprint(DraftFormState(draft_id="d")) == reference(DraftFormState(draft_id="d"))
    full = {
        name: (["x", "y"] if "ids" in name or name.endswith("s") else "v")
        for name in DraftFormState.model_fields
        if name not in {"draft_id", "revision", "pricing"} and not name.endswith("enabled")
    }
    full.pop("active", None)
    price = PricingDraftValue(id="p", label="l", unit="u", amount="1", currency="USD")
    draft = DraftFormState(draft_id="d", revision=3, active=True, pricing=[price], **full)
    assert live_fingerprint(draft) == reference(draft)

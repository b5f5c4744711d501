"""Round-trip rewriting: ruamel's output when only edited lines move, else a splice."""

from __future__ import annotations

import pytest

from reconciler.errors import RewriteError
from reconciler.manifests.rewrite import AppendItem, DeleteKey, InsertKey, SetValue, rewrite

PLAIN = """\
apiVersion: reconciler/v1
kind: Model
metadata:
  key: a
spec:
  name: A   # shown
  modalities: [text]
"""


def test_a_file_ruamel_keeps_is_rewritten_round_trip():
    result = rewrite(PLAIN, {0: [SetValue(("spec", "name"), "B")]})
    assert result.strategy == "round-trip"
    assert result.text == PLAIN.replace("name: A   #", "name: B   #")


def test_a_comment_before_the_document_start_forces_a_splice_that_keeps_it():
    text = "# yaml-language-server: $schema=x.json\n---\n" + PLAIN + "...\n"
    result = rewrite(text, {0: [AppendItem(("spec", "modalities"), "image")]})
    assert result.strategy == "splice"
    assert result.text == text.replace("[text]", "[text, image]")


def test_windows_line_endings_stay():
    text = PLAIN.replace("\n", "\r\n")
    edits = [InsertKey(("spec",), "active", False, after="name"), DeleteKey(("spec",), "name")]
    result = rewrite(text, {0: edits})
    assert result.text == text.replace("  name: A   # shown\r\n", "  active: false\r\n")


def test_a_value_that_shares_its_line_cannot_be_removed_and_says_where():
    text = "spec:\n  pricing:\n  - label: x\n    unit: u\n"
    with pytest.raises(RewriteError, match=r"models\.yaml: spec\.pricing\[0\] shares its line"):
        rewrite(
            text + "# keep\n---\n",  # the comment and marker push ruamel to a splice
            {0: [DeleteKey(("spec", "pricing", 0), "label")]},
            source="models.yaml",
        )

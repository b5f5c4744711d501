"""What the local catalog accepts at most in one request (the contract is silent; decided here).

A request is checked against these before the rest of it is parsed, so an
oversized or hostile one costs the server little and gets a 4xx in the
contract's JSON body, never a 5xx (a client retries a 5xx, and these can never
succeed):

- ``MAX_BODY_BYTES`` (1 MiB): a larger body is a 413. A ``Content-Length``
  over it is refused before the body is read; a body without one is read only
  up to the limit.
- ``MAX_DEPTH`` (32): JSON nested deeper is a 400, found by a scan of the raw
  bytes before they are parsed (a request nests 3 levels: body, ``pricing``,
  entry). 5,000 levels would otherwise exhaust the parser's recursion.
- ``MAX_STRING_CHARS`` (10,000 characters): any longer string (a field, a
  label, an id, a pricing value) is a 422 naming the field.
- ``MAX_KEY_CHARS`` (255 characters): a longer ``idempotency_key`` is a 422.
- ``MAX_LIST_ITEMS`` (1,000): a longer list is a 422 naming the field.
- Every string must be Unicode text: JSON can escape a lone UTF-16 surrogate
  (``"\\ud800"``), which no UTF-8 text can hold; it is a 422 naming the field.

The token is checked before any of this, before the body is read.
Reconciler's own requests stay far below every limit (keys are 43 characters).
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from reconciler.server.problems import FieldErrors

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_STRING_CHARS = 10_000
MAX_KEY_CHARS = 255
MAX_LIST_ITEMS = 1_000

# A JSON string literal, escapes included (unrolled, so long strings cost no backtracking).
_STRING_LITERAL = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_SURROGATE = re.compile("[\ud800-\udfff]")


def nesting_depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, brackets in strings not counted.

    Linear and without recursion, so it is safe on any input; on text that is not
    JSON the figure is approximate (the parser refuses such text anyway).
    """
    brackets = _STRING_LITERAL.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_values(body: dict[str, Any]) -> None:
    """Raise a 422 naming every string and list of ``body`` over its limit, or not text."""
    errors = FieldErrors()
    _walk(body, "", errors)
    errors.raise_if_any()


def _walk(value: object, where: str, errors: FieldErrors) -> None:
    if isinstance(value, str):
        limit = MAX_KEY_CHARS if where == "idempotency_key" else MAX_STRING_CHARS
        _check_text(value, where or "body", limit, errors)
    elif isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            errors.add(where, f"{len(value)} items; a list holds at most {MAX_LIST_ITEMS}")
            return
        for index, item in enumerate(value):
            _walk(item, f"{where}[{index}]", errors)
    elif isinstance(value, dict):
        for name, item in value.items():
            if len(name) > MAX_KEY_CHARS or _SURROGATE.search(name):
                errors.add(where or "body", "a field name is not one of the request's fields")
                continue
            _walk(item, f"{where}.{name}" if where else name, errors)


def _check_text(text: str, where: str, limit: int, errors: FieldErrors) -> None:
    if len(text) > limit:
        errors.add(where, f"{len(text)} characters; at most {limit}")
    elif (surrogate := _SURROGATE.search(text)) is not None:
        code = ord(surrogate.group())
        errors.add(
            where,
            f"is not Unicode text: it holds a lone surrogate (\\u{code:04x}) at character "
            f"{surrogate.start()}, which UTF-8 cannot encode",
        )

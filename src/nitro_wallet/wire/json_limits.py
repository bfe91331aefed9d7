"""A bound on JSON nesting, checked on the text before any parser recurses into it.

Python's json decoder recurses once per level; deep enough input ends in RecursionError, or, where the
recursion limit has been raised, in a crash of the interpreter. Checking first makes the limit explicit.
"""

from __future__ import annotations

OPENERS = frozenset("[{")
CLOSERS = frozenset("]}")


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` nest deeper than `limit` (strings are skipped, escapes too)."""
    if text.count("[") + text.count("{") <= limit:
        return False  # too few brackets to get there: the common case costs two counts
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif char in CLOSERS:
            depth -= 1
    return False

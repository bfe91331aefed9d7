"""The SSZ library behind one import: remerkleable, the implementation the consensus specs' own pyspec uses.

remerkleable ships no type hints, so its names arrive here as `Any` (one `type: ignore[import-untyped]` per
module imported) and the container modules that subclass `Container` turn off mypy's
`disallow-subclassing-any` for themselves alone. Everything else sees `View`, `build` and `hash_tree_root`.
"""

from typing import Any, TypeAlias

from remerkleable.basic import uint64  # type: ignore[import-untyped]
from remerkleable.bitfields import Bitlist, Bitvector  # type: ignore[import-untyped]
from remerkleable.byte_arrays import ByteVector  # type: ignore[import-untyped]
from remerkleable.complex import Container, List, Vector  # type: ignore[import-untyped]
from remerkleable.tree import subtree_fill_to_contents  # type: ignore[import-untyped]

__all__ = [
    "View",
    "build",
    "hash_tree_root",
    "Bitlist",
    "Bitvector",
    "ByteVector",
    "Bytes4",
    "Bytes20",
    "Bytes32",
    "Bytes48",
    "Bytes96",
    "Container",
    "List",
    "Vector",
    "uint64",
]

View: TypeAlias = Any  # an SSZ value (remerkleable view); untyped upstream

Bytes4: TypeAlias = ByteVector[4]
Bytes20: TypeAlias = ByteVector[20]
Bytes32: TypeAlias = ByteVector[32]
Bytes48: TypeAlias = ByteVector[48]
Bytes96: TypeAlias = ByteVector[96]


def hash_tree_root(value: View) -> bytes:
    """The SSZ hash_tree_root of `value`, as 32 plain bytes."""
    return bytes(value.hash_tree_root())


_FIELDS: dict[View, tuple[tuple[str, View], ...]] = {}


def build(container: View, **values: View) -> View:
    """`container(**values)` without remerkleable's per-field `isinstance(value, View)`: View is a typing
    Protocol, and on Python 3.11 that check took two thirds of an attestation's signing-root time.

    Every field must be given, as a view of its type or, for a List or Vector field, a Python list of views.
    """
    fields = _FIELDS.get(container)
    if fields is None:
        fields = _FIELDS[container] = tuple(container.fields().items())
    if values.keys() != {name for name, _ in fields}:
        raise TypeError(f"{container.__name__} takes {[name for name, _ in fields]}, not {sorted(values)}")
    nodes = []
    for name, field_type in fields:
        value = values[name]
        nodes.append((field_type.coerce_view(value) if isinstance(value, list) else value).get_backing())
    return container.view_from_backing(subtree_fill_to_contents(nodes, container.tree_depth()))

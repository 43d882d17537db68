"""Claim values that cannot change once a bundle holds them: JSON objects and arrays as read-only ``dict`` and
``list`` subclasses.

A claim is hashed into the document digest; a bundle keeps the leaves it hashed while checking its claims, so each
claim is hashed once. That is sound only while nobody can change a claim's value after it was hashed, so the
values a bundle holds are frozen all the way down: objects are :class:`FrozenObject`, arrays :class:`FrozenArray`,
whose mutators raise ``TypeError``. They compare equal to, and encode (``json``, RFC 8785) as, ``dict`` and
``list``; a copy is the value itself.
"""

from __future__ import annotations

from typing import Any, NoReturn

#: The JSON scalars, immutable as Python holds them.
SCALARS = frozenset({str, int, float, bool, type(None)})


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(f"a claim value cannot change once a bundle holds it ({type(self).__name__} is read-only)")


class FrozenObject(dict[str, Any]):
    """A JSON object that cannot change, its members' values frozen too."""

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> FrozenObject:
        self = dict.__new__(cls)
        dict.__init__(self, *args, **kwargs)
        if not set(map(type, dict.values(self))) <= FROZEN:
            for name, item in dict.items(self):
                if type(item) not in FROZEN:
                    dict.__setitem__(self, name, frozen(item))
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # filled in __new__: calling it again changes nothing
        pass

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[type[FrozenObject], tuple[dict[str, Any]]]:
        return FrozenObject, (dict(self),)

    def __copy__(self) -> FrozenObject:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenObject:
        return self


class FrozenArray(list[Any]):
    """A JSON array that cannot change, its items frozen too."""

    __slots__ = ()

    def __new__(cls, items: Any = ()) -> FrozenArray:
        self = list.__new__(cls)
        list.__init__(self, (item if type(item) in FROZEN else frozen(item) for item in items))
        return self

    def __init__(self, items: Any = ()) -> None:  # filled in __new__: calling it again changes nothing
        pass

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = reverse = sort = clear = _refuse

    def __reduce__(self) -> tuple[type[FrozenArray], tuple[list[Any]]]:
        return FrozenArray, (list(self),)

    def __copy__(self) -> FrozenArray:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenArray:
        return self


#: The types of values that cannot change (a frozen container's contents are frozen when it is made).
FROZEN = SCALARS | {FrozenObject, FrozenArray}


def frozen(value: Any) -> Any:
    """``value`` frozen: a ``dict`` as a :class:`FrozenObject`, a ``list`` as a :class:`FrozenArray` (their
    contents frozen too), anything else as it is (a scalar cannot change; what is no JSON, the claim checks
    refuse)."""
    kind = type(value)
    if kind in FROZEN:
        return value
    if isinstance(value, dict):
        return FrozenObject(value)
    if isinstance(value, list):
        return FrozenArray(value)
    return value

"""The public surface is exactly ``__all__``, and everything in it is importable and documented."""

from __future__ import annotations

import crossverify


def test_all_is_exported_and_documented() -> None:
    for name in crossverify.__all__:
        member = getattr(crossverify, name)
        assert member.__doc__, f"crossverify.{name} has no docstring"


def test_all_is_sorted_and_unique() -> None:
    assert list(crossverify.__all__) == sorted(set(crossverify.__all__))


def test_no_private_leaks() -> None:
    public = {n for n in dir(crossverify) if not n.startswith("_")}
    modules = {"errors"} | {n for n in public if type(getattr(crossverify, n)).__name__ == "module"}
    assert public - modules == set(crossverify.__all__)

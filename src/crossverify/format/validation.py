"""Validators generated from the shipped JSON Schemas (``schema/*.json``, the published specification), with no
JSON Schema library at run time.

:func:`compile_schema` turns a schema into a :class:`SchemaCheck`: ``valid(doc)`` is Python source generated from
the schema and compiled once (one function per subschema, each keyword an inline test), the path every genuine
file takes; ``fault(doc)`` explains a document that is not valid, walking the schema in its own keyword order and
choosing among the faults as JSON Schema validators conventionally do (the fault highest up in the document, then
the earliest sibling; inside ``anyOf`` the deepest), so the error a reader gets and its JSON pointer are the ones
a Draft 2020-12 validator's best match gives. The schemas use a subset of the vocabulary (``type``,
``required``, ``properties``, ``additionalProperties: false``, ``items``, ``minItems``, ``maxItems``,
``pattern``, ``minLength``, ``maxLength``, ``minimum``, ``maximum``, ``enum``, ``const``, ``anyOf``,
``if``/``then``/``else`` and local ``$ref``); a schema using anything else is refused when compiled, so the
specification cannot grow a rule this code would silently skip. As in the format, an "integer" is a number
written without fraction or exponent (read as ``int``): ``1.0`` is not an index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Keywords that describe and do not constrain.
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "$comment", "examples", "default"})
#: Keywords applied by another keyword (``if`` applies ``then`` and ``else``).
_APPLIED_BY_IF = frozenset({"then", "else"})
_CHECKED = frozenset({"type", "required", "properties", "additionalProperties", "items", "minItems", "maxItems",
                      "pattern", "minLength", "maxLength", "minimum", "maximum", "enum", "const", "anyOf", "if"})
#: Faults of these keywords count for less than a sibling's at the same place.
_WEAK = frozenset({"anyOf", "oneOf"})


def ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` as JSON Schema means it (ECMA-262, no flags), compiled for Python: ECMA's ``$`` matches at the
    end of the input only, where Python's also matches before a final newline (``"DEPCERT\\n"`` would pass
    ``^[A-Z0-9]{1,8}$``), so an unescaped ``$`` outside a character class becomes ``\\Z``."""
    out, escaped, in_class = [], False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "$" and not in_class:
            out.append(r"\Z")
            continue
        out.append(ch)
    return re.compile("".join(out))


@dataclass(frozen=True, eq=False)
class Fault:
    """Why a document fails its schema: the keyword (``validator``) and its value, the subschema holding it, the
    offending value and where it is (``absolute_path``, from the document's top; ``path``, from the value an
    ``anyOf`` was applied to when the fault explains one of its branches), as a JSON Schema validator's
    errors name them."""

    validator: str
    validator_value: Any
    schema: Mapping[str, Any]
    instance: Any
    absolute_path: tuple[str | int, ...]
    path: tuple[str | int, ...]
    message: str
    context: tuple[Fault, ...] = field(default=())

    def _matches_type(self) -> bool:
        expected = self.schema.get("type")
        if expected is None:
            return False
        return any(_is_type(self.instance, t) for t in ([expected] if isinstance(expected, str) else expected))


class SchemaCheck:
    """A schema compiled: ``valid`` for the common case, ``fault`` for the explanation."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = _inlined(schema, schema.get("$defs", {}))
        self.valid: Callable[[Any], bool] = _Generator().compile(self.schema)

    def fault(self, doc: Any) -> Fault | None:
        """The fault a JSON Schema validator's best match names for ``doc``, or ``None`` when it is valid."""
        return _best(_faults(self.schema, doc, (), ()))

    def explain(self, doc: Any) -> Fault:
        """:meth:`fault` for a document ``valid`` refused."""
        found = self.fault(doc)
        if found is None:
            raise ValueError("the document is valid: there is no fault to explain")
        return found


def compile_schema(schema: Mapping[str, Any]) -> SchemaCheck:
    """``schema`` (a Draft 2020-12 JSON Schema in the supported subset) as a :class:`SchemaCheck`."""
    return SchemaCheck(schema)


# --- the generated fast path -----------------------------------------------------------------------------------

class _Generator:
    """Writes one Python function per subschema; each returns whether its value is valid."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.count = 0

    def compile(self, schema: Any) -> Callable[[Any], bool]:
        name = self.function(schema)
        namespace: dict[str, Any] = {**self.constants, "_equal": _equal}
        exec(compile("\n".join(self.lines), "<crossverify.format.validation>", "exec"), namespace)
        return namespace[name]  # type: ignore[no-any-return]

    def constant(self, value: Any) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def function(self, schema: Any) -> str:
        """The name of a new function checking ``schema``."""
        name = f"_v{self.count}"
        self.count += 1
        if schema is True or schema == {}:
            self.lines += [f"def {name}(x):", "    return True"]
            return name
        if schema is False:
            self.lines += [f"def {name}(x):", "    return False"]
            return name
        _supported(schema)
        # valid() is a conjunction, so its tests may run in any order: the type first, and then, when it names
        # one type, the other keywords without guarding against values of other types (to which they do not
        # apply).
        known = schema.get("type") if isinstance(schema.get("type"), str) else None
        body = self.keyword("type", schema["type"], schema, None) if "type" in schema else []
        for keyword, value in schema.items():
            if keyword in _ANNOTATIONS or keyword in _APPLIED_BY_IF or keyword == "type":
                continue
            body += self.keyword(keyword, value, schema, known)
        self.lines += [f"def {name}(x):", *("    " + line for line in body), "    return True"]
        return name

    def keyword(self, keyword: str, value: Any, schema: Mapping[str, Any], known: str | None) -> list[str]:
        """Lines that return False when ``keyword`` fails; ``known``: the one type the value already has."""

        def applying(kind: str, test: str, *also: str) -> list[str]:
            """``test``, for values of JSON type ``kind`` (and ``also``): none when the value is known to be of
            another type, unguarded when it is known to be of this one."""
            if known is not None:
                return [f"if {test}: return False"] if known in (kind, *also) else []
            return [f"if {_TYPE_TESTS[kind]} and {test}: return False"]

        if keyword == "type":
            return [f"if not ({' or '.join(_TYPE_TESTS[t] for t in _types(value))}): return False"]
        if keyword == "required":
            return applying("object", f"not x.keys() >= {self.constant(frozenset(value))}")
        if keyword == "additionalProperties":
            if value is not False:
                raise ValueError("only 'additionalProperties: false' is supported")
            return applying("object", f"not x.keys() <= {self.constant(frozenset(schema.get('properties', {})))}")
        if keyword == "properties":
            tests = [f"({member!r} in x and not {self.function(sub)}(x[{member!r}]))" for member, sub in value.items()
                     if not (sub is True or sub == {})]
            return applying("object", " or ".join(tests)) if tests else []
        if keyword == "items":
            if value is True or value == {}:
                return []
            return applying("array", f"not all(map({self.function(value)}, x))")
        if keyword in ("minItems", "maxItems", "minLength", "maxLength"):
            op = "<" if keyword.startswith("min") else ">"
            return applying("array" if keyword.endswith("Items") else "string", f"len(x) {op} {int(value)}")
        if keyword == "pattern":
            return applying("string", f"not {self.constant(ecma_regex(value).search)}(x)")
        if keyword in ("minimum", "maximum"):
            op = "<" if keyword == "minimum" else ">"
            return applying("number", f"x {op} {value!r}", "integer")
        if keyword == "enum":
            if all(isinstance(v, str) for v in value):
                return [f"if not (isinstance(x, str) and x in {self.constant(frozenset(value))}): return False"]
            return [f"if not any(_equal(e, x) for e in {self.constant(list(value))}): return False"]
        if keyword == "const":
            return [f"if not _equal(x, {self.constant(value)}): return False"]
        if keyword == "anyOf":
            names = [self.function(sub) for sub in value]
            return [f"if not ({' or '.join(f'{n}(x)' for n in names)}): return False"]
        if keyword == "if":
            test = self.function(value)
            then = self.function(schema.get("then", True))
            otherwise = self.function(schema.get("else", True))
            return [f"if not ({then}(x) if {test}(x) else {otherwise}(x)): return False"]
        raise ValueError(f"JSON Schema keyword {keyword!r} is not supported")


_TYPE_TESTS = {
    "object": "isinstance(x, dict)",
    "array": "isinstance(x, list)",
    "string": "isinstance(x, str)",
    "integer": "type(x) is int",
    "number": "(isinstance(x, (int, float)) and not isinstance(x, bool))",
    "boolean": "isinstance(x, bool)",
    "null": "x is None",
}


def _types(value: str | Sequence[str]) -> list[str]:
    types = [value] if isinstance(value, str) else list(value)
    unknown = set(types) - set(_TYPE_TESTS)
    if unknown:
        raise ValueError(f"unknown JSON Schema type {sorted(unknown)[0]!r}")
    return types


def _is_type(x: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(x, dict)
    if kind == "array":
        return isinstance(x, list)
    if kind == "string":
        return isinstance(x, str)
    if kind == "integer":
        return type(x) is int
    if kind == "number":
        return isinstance(x, int | float) and not isinstance(x, bool)
    if kind == "boolean":
        return isinstance(x, bool)
    return x is None


def _supported(schema: Mapping[str, Any]) -> None:
    unknown = set(schema) - _ANNOTATIONS - _APPLIED_BY_IF - _CHECKED
    if unknown:
        raise ValueError(f"JSON Schema keyword {sorted(unknown)[0]!r} is not supported")


def _inlined(node: Any, defs: Mapping[str, Any]) -> Any:
    """The schema with each ``{"$ref": "#/$defs/x"}`` replaced by its definition."""
    if isinstance(node, dict):
        if "$ref" in node:
            if set(node) - _ANNOTATIONS != {"$ref"} or not node["$ref"].startswith("#/$defs/"):
                raise ValueError(f"only a bare local reference is supported, got {node!r}")
            return _inlined(defs[node["$ref"].removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node


def _equal(one: Any, two: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, in containers too."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and bool(one == two)
    return bool(one == two)


# --- the explanation ----------------------------------------------------------------------------------------------

def _faults(schema: Any, x: Any, where: tuple[str | int, ...], rel: tuple[str | int, ...]) -> Iterator[Fault]:
    """Every fault of ``x`` (at ``where`` in the document; ``rel`` from the nearest ``anyOf``) against
    ``schema``, in the order a JSON Schema validator finds them: the schema's keywords in their written order."""
    if schema is True or schema == {}:
        return
    if schema is False:
        yield Fault("false", False, {}, x, where, rel, "False schema does not allow " + repr(x))
        return

    def fault(keyword: str, message: str, context: tuple[Fault, ...] = ()) -> Fault:
        return Fault(keyword, schema[keyword], schema, x, where, rel, message, context)

    for keyword, value in schema.items():
        if keyword == "type":
            if not any(_is_type(x, t) for t in _types(value)):
                yield fault(keyword, f"{x!r} is not of type {', '.join(repr(t) for t in _types(value))}")
        elif keyword == "required":
            if isinstance(x, dict):
                for member in value:
                    if member not in x:
                        yield fault(keyword, f"{member!r} is a required property")
        elif keyword == "additionalProperties":
            if isinstance(x, dict):
                extras = sorted((k for k in x if k not in schema.get("properties", {})), key=str)
                if extras:
                    verb = "was" if len(extras) == 1 else "were"
                    yield fault(keyword, f"Additional properties are not allowed "
                                         f"({', '.join(repr(e) for e in extras)} {verb} unexpected)")
        elif keyword == "properties":
            if isinstance(x, dict):
                for member, sub in value.items():
                    if member in x:
                        yield from _faults(sub, x[member], (*where, member), (*rel, member))
        elif keyword == "items":
            if isinstance(x, list):
                for i, item in enumerate(x):
                    yield from _faults(value, item, (*where, i), (*rel, i))
        elif keyword in ("minItems", "minLength"):
            if isinstance(x, list if keyword == "minItems" else str) and len(x) < value:
                yield fault(keyword, f"{x!r} {'should be non-empty' if value == 1 else 'is too short'}")
        elif keyword in ("maxItems", "maxLength"):
            if isinstance(x, list if keyword == "maxItems" else str) and len(x) > value:
                yield fault(keyword, f"{x!r} {'is expected to be empty' if value == 0 else 'is too long'}")
        elif keyword == "pattern":
            if isinstance(x, str) and not ecma_regex(value).search(x):
                yield fault(keyword, f"{x!r} does not match {value!r}")
        elif keyword == "minimum":
            if _is_type(x, "number") and x < value:
                yield fault(keyword, f"{x!r} is less than the minimum of {value!r}")
        elif keyword == "maximum":
            if _is_type(x, "number") and x > value:
                yield fault(keyword, f"{x!r} is greater than the maximum of {value!r}")
        elif keyword == "enum":
            if not any(_equal(e, x) for e in value):
                yield fault(keyword, f"{x!r} is not one of {value!r}")
        elif keyword == "const":
            if not _equal(x, value):
                yield fault(keyword, f"{value!r} was expected")
        elif keyword == "anyOf":
            context: list[Fault] = []
            for sub in value:
                found = list(_faults(sub, x, where, ()))
                if not found:
                    break
                context += found
            else:
                yield fault(keyword, f"{x!r} is not valid under any of the given schemas", tuple(context))
        elif keyword == "if":
            if next(_faults(value, x, where, rel), None) is None:
                yield from _faults(schema.get("then", True), x, where, rel)
            else:
                yield from _faults(schema.get("else", True), x, where, rel)


def _relevance(f: Fault) -> tuple[Any, ...]:
    """How well a fault explains the failure: higher up in the document, then the earlier sibling path, then a
    strong keyword, then one whose value at least has the expected type."""
    return -len(f.path), f.path, f.validator not in _WEAK, False, not f._matches_type()


def _best(faults: Iterator[Fault]) -> Fault | None:
    best = max(faults, key=_relevance, default=None)
    if best is None:
        return None
    while best.context:  # inside anyOf, the deepest fault, unless two are equally deep
        ranked = sorted(best.context, key=_relevance)[:2]
        if len(ranked) == 2 and _relevance(ranked[0]) == _relevance(ranked[1]):
            return best
        best = ranked[0]
    return best

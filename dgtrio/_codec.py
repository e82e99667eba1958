"""The sans-IO message codec: attrs classes to JSON frames and back, both directions.

This module never imports trio. One :class:`Schema` per socket lists the
message classes each side may send; the client parses server frames with it
and :mod:`dgtrio.testing` parses client frames with the very same schema, so a
field added once is known to both ends of the wire.

How decoding works, and why (numbered so the rules can be cited):

1. Every message class is ``@attrs.frozen(slots=False)`` and declares its wire
   tag as ``type: ClassVar[str]``. Dispatch is strict: a dict lookup on the
   frame's ``type``. A tag we do not model becomes :class:`UnknownMessage` and
   is delivered like any other message: never dropped, never guessed at.
2. Unknown *fields* are ignored (the server adds fields over time). Fields the
   server may omit have defaults on the class.
3. Types are checked strictly: a string where a number belongs is an error, not
   a coercion (cattrs' default would turn ``"yes"`` into ``True``). Integers are
   accepted where floats belong, because JSON does not distinguish ``1`` from
   ``1.0``.
4. The hot path is a structuring function compiled per class from its attrs
   fields (see :func:`_compile_structure`). It fills the frozen instance's
   ``__dict__`` directly, which costs a fifth of a frozen ``__init__``;
   measured in ``benchmarks/bench_decode.py``. It raises on the first problem
   and reports nothing.
5. When the fast path fails, the frame is structured again with the cattrs
   converter in detailed-validation mode, which knows the same strict rules and
   reports every problem with its path (``"... @ $.channel.alternatives[0]"``).
   Failures are rare, so only they pay for the detail. A property test checks
   that both paths agree on every input.
6. Malformed frames raise :class:`~dgtrio.MessageDecodeError` with the tag, the
   path-level errors and the raw frame. cattrs' ExceptionGroups never escape
   (they would mix with nursery groups in the session layer).

Encoding goes through the same cattrs converter: fields whose value is
``None`` are omitted (the wire's convention for "not set"), the tag is written
first, and an "extras" mapping field, where a class has one, is merged in so
that settings Deepgram adds before dgtrio models them can still be sent.
"""

from __future__ import annotations

import json
import logging
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import MessageDecodeError

_orjson: Any
try:  # orjson is a dependency, but keep working where it has no wheel.
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without orjson
    _orjson = None

__all__ = [
    "CONVERTER",
    "EXTRAS",
    "WIRE_NAME",
    "Schema",
    "UnknownMessage",
    "dumps",
    "extras_field",
    "loads",
    "message_tag",
]

logger = logging.getLogger("dgtrio")

#: attrs field metadata key: the JSON key when it differs from the field name.
WIRE_NAME = "dgtrio.wire_name"
#: attrs field metadata key: this ``Mapping[str, Any]`` field collects JSON keys the
#: class does not model (decoding) and is merged into the object (encoding).
EXTRAS = "dgtrio.extras"

T = TypeVar("T")
ServerT = TypeVar("ServerT")
ClientT = TypeVar("ClientT")

if _orjson is not None:
    loads: Callable[[str | bytes], Any] = _orjson.loads

    def dumps(obj: Any) -> str:
        """Serialise ``obj`` as compact JSON text."""
        encoded: bytes = _orjson.dumps(obj)
        return encoded.decode()

else:  # pragma: no cover
    loads = json.loads
    _compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    def dumps(obj: Any) -> str:
        """Serialise ``obj`` as compact JSON text."""
        return _compact(obj)


def extras_field() -> Any:
    """Declare the catch-all field of a class that passes unknown keys through.

    Use as ``extra_fields: Mapping[str, Any] = extras_field()``. When decoding,
    keys the class does not model land here; when encoding, its entries are
    written next to the modelled fields (a modelled field wins a conflict).
    """
    return attrs.field(factory=dict, kw_only=True, metadata={EXTRAS: True})


def message_tag(cls: type) -> str | None:
    """Return the wire tag a message class (or a base) declares as ``type: ClassVar[str]``.

    Classes with an instance field named ``type`` (the official SDK's generic
    control messages, provider settings) carry their tag as data instead.
    """
    if attrs.has(cls) and any(f.name == "type" for f in attrs.fields(cls)):
        return None
    for klass in cls.__mro__:
        tag = klass.__dict__.get("type")
        if isinstance(tag, str):
            return tag
    return None


@attrs.frozen(slots=False)
class UnknownMessage:
    """A message whose ``type`` dgtrio does not model (yet).

    Deepgram adds message types over time; they arrive as ``UnknownMessage``
    in the same stream as everything else, so nothing is dropped and nothing
    is mis-parsed as a type it is not.

    Attributes:
        type: The frame's ``type`` tag, or ``None`` if it had no string tag.
        raw: The whole decoded JSON object, tag included.
        data: For an unexpected binary frame, its bytes (``raw`` is then empty).
    """

    type: str | None
    raw: Mapping[str, Any] = attrs.field(factory=dict)
    data: bytes | None = attrs.field(
        default=None, repr=lambda d: "None" if d is None else f"<{len(d)} bytes>"
    )


# ---------------------------------------------------------------------------
# The cattrs converter: strict primitives, strict sequences, renames, extras.


def _strict_str(value: Any, _: Any) -> str:
    if value.__class__ is not str:
        raise TypeError(f"expected a string, got {_json_kind(value)}")
    return value


def _strict_bool(value: Any, _: Any) -> bool:
    if value.__class__ is not bool:
        raise TypeError(f"expected a boolean, got {_json_kind(value)}")
    return value


def _strict_int(value: Any, _: Any) -> int:
    if value.__class__ is not int:
        raise TypeError(f"expected an integer, got {_json_kind(value)}")
    return value


def _strict_float(value: Any, _: Any) -> float:
    cls = value.__class__
    if cls is float:
        return value  # type: ignore[no-any-return]
    if cls is int:
        return float(value)
    raise TypeError(f"expected a number, got {_json_kind(value)}")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "an object",
    }.get(value.__class__, type(value).__name__)


def _is_homogeneous_tuple(tp: Any) -> bool:
    args = get_args(tp)
    return get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _is_simple_union(tp: Any) -> bool:
    """A union whose members are told apart by their JSON kind alone."""
    if not _is_union(tp):
        return False
    members = [m for m in get_args(tp) if m is not type(None)]
    if len(members) < 2:
        return False  # Optional[X] is handled by cattrs itself.
    kinds = [_kind_of(m) for m in members]
    return None not in kinds and len(set(kinds)) == len(kinds)


_JSON_CLASS: dict[str, type] = {
    "str": str,
    "bool": bool,
    "int": int,
    "float": float,
    "list": list,
    "dict": dict,
}


def _is_union(tp: Any) -> bool:
    origin = get_origin(tp)
    return origin is Union or origin is types.UnionType


def _kind_of(tp: Any) -> str | None:
    """The JSON kind a type is structured from, or None when it is ambiguous."""
    if tp in (str, bool, int, float):
        return tp.__name__  # type: ignore[no-any-return]
    if _is_homogeneous_tuple(tp):
        return "list"
    if attrs.has(tp) or get_origin(tp) in (dict, Mapping, typing.Mapping):
        return "dict"
    if get_origin(tp) is Literal and all(isinstance(a, str) for a in get_args(tp)):
        return "str"
    return None


def _build_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)

    def tuple_factory(tp: Any, converter: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
        base = homogenous_tuple_structure_factory(tp, converter)

        def structure_tuple(value: Any, _: Any) -> Any:
            if value.__class__ is not list:
                raise TypeError(f"expected an array, got {_json_kind(value)}")
            return base(value, tp)

        return structure_tuple

    conv.register_structure_hook_factory(_is_homogeneous_tuple, tuple_factory)

    def union_factory(tp: Any, converter: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
        members = [m for m in get_args(tp) if m is not type(None)]
        by_class = {_JSON_CLASS[_kind_of(m) or ""]: m for m in members}
        if float in members and int not in members:
            by_class.setdefault(int, float)
        names = " or ".join(_type_name(m) for m in get_args(tp))

        def structure_union(value: Any, _: Any) -> Any:
            if value is None and type(None) in get_args(tp):
                return None
            member = by_class.get(value.__class__)
            if member is None:
                raise TypeError(f"expected {names}, got {_json_kind(value)}")
            # The member's own hook, so nested problems keep their paths.
            return converter.structure(value, member)

        return structure_union

    conv.register_structure_hook_factory(_is_simple_union, union_factory)

    def structure_factory(cls: Any, converter: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
        overrides, extras = _field_overrides(cls)
        base = make_dict_structure_fn(cls, converter, **overrides)
        if extras is None:

            def structure_object(value: Any, _: Any) -> Any:
                if value.__class__ is not dict:
                    raise TypeError(f"expected an object, got {_json_kind(value)}")
                return base(value, cls)

            return structure_object
        known = _wire_names(cls) | {"type"}

        def structure_with_extras(value: Any, _: Any) -> Any:
            if value.__class__ is not dict:
                raise TypeError(f"expected an object, got {_json_kind(value)}")
            inst = base(value, cls)
            rest = {k: v for k, v in value.items() if k not in known}
            object.__setattr__(inst, extras, rest)
            return inst

        return structure_with_extras

    conv.register_structure_hook_factory(attrs.has, structure_factory)

    def unstructure_factory(cls: Any, converter: cattrs.BaseConverter) -> Callable[[Any], Any]:
        overrides, extras = _field_overrides(cls)
        base = make_dict_unstructure_fn(cls, converter, **overrides)
        tag = message_tag(cls)

        def unstructure_object(obj: Any) -> dict[str, Any]:
            body = {k: v for k, v in base(obj).items() if v is not None}
            if extras is not None:
                body = {**getattr(obj, extras), **body}
            return {"type": tag, **body} if tag is not None else body

        return unstructure_object

    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


def _field_overrides(cls: type) -> tuple[dict[str, Any], str | None]:
    overrides: dict[str, Any] = {}
    extras: str | None = None
    for field in attrs.fields(cls):
        if field.metadata.get(EXTRAS):
            extras = field.name
            overrides[field.name] = override(omit=True)
        elif WIRE_NAME in field.metadata:
            overrides[field.name] = override(rename=field.metadata[WIRE_NAME])
    return overrides, extras


def _wire_names(cls: type) -> set[str]:
    return {
        f.metadata.get(WIRE_NAME, f.name) for f in attrs.fields(cls) if not f.metadata.get(EXTRAS)
    }


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    kind = _kind_of(tp)
    return {"list": "an array", "dict": "an object"}.get(
        kind or "", getattr(tp, "__name__", str(tp))
    )


#: The one converter. Built at import time so the first frame does not pay for
#: code generation.
CONVERTER = _build_converter()


# ---------------------------------------------------------------------------
# The fast path: a structuring function compiled per class (rule 4).


class _Reject(Exception):
    """Raised by compiled code; only means "let cattrs explain"."""


_MISSING = object()
_compiled: dict[Any, Callable[[Any], Any]] = {}


def _float_item(value: Any) -> float:
    cls = value.__class__
    if cls is float:
        return value  # type: ignore[no-any-return]
    if cls is int:
        return float(value)
    raise _Reject


class _Emitter:
    """Accumulates generated source and the names it refers to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "_Reject": _Reject,
            "_MISSING": _MISSING,
            "_new": object.__new__,
            "_float_item": _float_item,
        }
        self._counter = 0

    def name(self, prefix: str, value: Any) -> str:
        self._counter += 1
        key = f"_{prefix}{self._counter}"
        self.ns[key] = value
        return key

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def check(self, tp: Any, var: str, indent: int) -> None:
        """Emit code that validates (and may convert) local ``var`` in place."""
        if tp is Any or tp is object:
            return
        if tp is str or tp is bool or tp is int:
            self.emit(indent, f"if {var}.__class__ is not {tp.__name__}: raise _Reject")
            return
        if tp is float:
            self.emit(indent, f"if {var}.__class__ is not float:")
            self.emit(indent + 1, f"if {var}.__class__ is int: {var} = float({var})")
            self.emit(indent + 1, "else: raise _Reject")
            return
        if tp is type(None):
            self.emit(indent, f"if {var} is not None: raise _Reject")
            return
        if attrs.has(tp):
            fn = self.name("s", _compile_structure(tp))
            self.emit(indent, f"{var} = {fn}({var})")
            return
        origin = get_origin(tp)
        args = get_args(tp)
        if origin is Literal and all(isinstance(a, str) for a in args):
            allowed = self.name("lit", frozenset(args))
            self.emit(indent, f"if {var}.__class__ is not str or {var} not in {allowed}:")
            self.emit(indent + 1, "raise _Reject")
            return
        if _is_union(tp):
            members = [m for m in args if m is not type(None)]
            if len(members) == 1:
                self.emit(indent, f"if {var} is not None:")
                before = len(self.lines)
                self.check(members[0], var, indent + 1)
                if len(self.lines) == before:
                    self.emit(indent + 1, "pass")
                return
            if _is_simple_union(tp):
                self._check_simple_union(tp, var, indent)
                return
        elif _is_homogeneous_tuple(tp):
            self._check_tuple(args[0], var, indent)
            return
        elif origin in (dict, Mapping, typing.Mapping) and len(args) == 2:
            self.emit(indent, f"if {var}.__class__ is not dict: raise _Reject")
            if args[1] is not Any:
                item = self.name("v", _compile_value(args[1]))
                self.emit(indent, f"{var} = {{k: {item}(v) for k, v in {var}.items()}}")
            return
        # Anything else is cattrs' business (its hook raises on bad input).
        hook = self.name("h", CONVERTER.get_structure_hook(tp))
        typ = self.name("t", tp)
        self.emit(indent, f"{var} = {hook}({var}, {typ})")

    def _check_tuple(self, item: Any, var: str, indent: int) -> None:
        self.emit(indent, f"if {var}.__class__ is not list: raise _Reject")
        if item is Any:
            self.emit(indent, f"{var} = tuple({var})")
        elif item in (str, bool, int):
            self.emit(indent, f"for _x in {var}:")
            self.emit(indent + 1, f"if _x.__class__ is not {item.__name__}: raise _Reject")
            self.emit(indent, f"{var} = tuple({var})")
        elif item is float:
            self.emit(indent, f"{var} = tuple([_float_item(_x) for _x in {var}])")
        else:
            fn = self.name("e", _compile_value(item))
            self.emit(indent, f"{var} = tuple([{fn}(_x) for _x in {var}])")

    def _check_simple_union(self, tp: Any, var: str, indent: int) -> None:
        members = [m for m in get_args(tp) if m is not type(None)]
        by_kind = {_kind_of(m): m for m in members}
        keyword = "if"
        if type(None) in get_args(tp):
            self.emit(indent, f"if {var} is None: pass")
            keyword = "elif"
        for kind, member in by_kind.items():
            assert kind is not None
            self.emit(indent, f"{keyword} {var}.__class__ is {kind}:")
            before = len(self.lines)
            self.check(member, var, indent + 1)
            if len(self.lines) == before:
                self.emit(indent + 1, "pass")
            keyword = "elif"
        if "float" in by_kind and "int" not in by_kind:
            self.emit(indent, f"elif {var}.__class__ is int: {var} = float({var})")
        self.emit(indent, "else: raise _Reject")


def _accepts_none(tp: Any) -> bool:
    return tp is Any or tp is object or (_is_union(tp) and type(None) in get_args(tp))


def _compile_value(tp: Any) -> Callable[[Any], Any]:
    """Compile a function that validates/converts one value of type ``tp``."""
    if attrs.has(tp):
        return _compile_structure(tp)
    key = ("value", tp)
    if key in _compiled:
        return _compiled[key]
    em = _Emitter()
    em.emit(0, "def structure_value(v):")
    em.check(tp, "v", 1)
    em.emit(1, "return v")
    fn = _exec(em, "structure_value", f"value:{tp!r}")
    _compiled[key] = fn
    return fn


def _compile_structure(cls: type) -> Callable[[Any], Any]:
    """Compile the fast structuring function of attrs class ``cls``.

    The function takes a decoded JSON object and returns an instance, or raises
    (anything) when the object does not fit; it never explains why.
    """
    if cls in _compiled:
        return _compiled[cls]
    attrs.resolve_types(cls)
    em = _Emitter()
    em.emit(0, "def structure(o):")
    em.emit(1, "if o.__class__ is not dict: raise _Reject")
    assigned: list[tuple[str, str]] = []
    extras: str | None = None
    for i, field in enumerate(attrs.fields(cls)):
        if field.metadata.get(EXTRAS):
            extras = field.name
            continue
        var = f"v{i}"
        wire = field.metadata.get(WIRE_NAME, field.name)
        if field.default is attrs.NOTHING:
            em.emit(1, f"{var} = o[{wire!r}]")
            em.check(field.type, var, 1)
        elif field.default is None and _accepts_none(field.type):
            # A missing key and an explicit null mean the same thing here.
            em.emit(1, f"{var} = o.get({wire!r})")
            em.check(field.type, var, 1)
        else:
            em.emit(1, f"{var} = o.get({wire!r}, _MISSING)")
            em.emit(1, f"if {var} is _MISSING:")
            if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                factory = em.name("f", field.default.factory)
                em.emit(2, f"{var} = {factory}()")
            else:
                em.emit(2, f"{var} = {em.name('d', field.default)}")
            em.emit(1, "else:")
            before = len(em.lines)
            em.check(field.type, var, 2)
            if len(em.lines) == before:
                em.emit(2, "pass")
        assigned.append((field.name, var))
    if extras is not None:
        known = em.name("known", frozenset(_wire_names(cls) | {"type"}))
        em.emit(1, f"ex = {{k: v for k, v in o.items() if k not in {known}}}")
        assigned.append((extras, "ex"))
    em.emit(1, f"inst = _new({em.name('cls', cls)})")
    body = ", ".join(f"{name!r}: {var}" for name, var in assigned)
    em.emit(1, f"inst.__dict__.update({{{body}}})")
    em.emit(1, "return inst")
    fn = _exec(em, "structure", cls.__qualname__)
    _compiled[cls] = fn
    return fn


def _exec(em: _Emitter, name: str, label: str) -> Callable[[Any], Any]:
    source = "\n".join(em.lines)
    code = compile(source, f"<dgtrio structure {label}>", "exec")
    exec(code, em.ns)
    return em.ns[name]  # type: ignore[no-any-return]


def _check_frozen_dict_class(cls: type) -> None:
    if not attrs.has(cls):
        raise TypeError(f"{cls!r} is not an attrs class")
    if "__slots__" in cls.__dict__:
        raise TypeError(
            f"{cls.__qualname__} must use attrs.frozen(slots=False) (see dgtrio._codec)"
        )
    for sub in attrs.fields(cls):
        tp = sub.type
        for inner in _nested_attrs_classes(tp):
            _check_frozen_dict_class(inner)


def _nested_attrs_classes(tp: Any) -> Iterable[type]:
    if isinstance(tp, type) and attrs.has(tp):
        yield tp
        return
    for arg in get_args(tp):
        yield from _nested_attrs_classes(arg)


# ---------------------------------------------------------------------------
# Schemas: the message set of one socket, both directions.


class _Table:
    def __init__(self, classes: Sequence[type], direction: str, schema: str) -> None:
        self.classes = tuple(classes)
        self.entries: dict[str, tuple[Callable[[Any], Any], type]] = {}
        for cls in classes:
            tag = message_tag(cls)
            if tag is None:
                raise TypeError(f"{cls.__qualname__} has no `type: ClassVar[str]` tag")
            if tag in self.entries:
                raise TypeError(f"{schema}: two {direction} classes use the tag {tag!r}")
            attrs.resolve_types(cls)
            _check_frozen_dict_class(cls)
            self.entries[tag] = (_compile_structure(cls), cls)
            CONVERTER.get_structure_hook(cls)  # generate the slow path now, not mid-session
            CONVERTER.get_unstructure_hook(cls)


class Schema(Generic[ServerT, ClientT]):
    """The message classes of one socket, in both directions.

    Args:
        name: The socket, for error messages (``"listen.v1"``).
        server: Classes the server sends (text frames).
        client: Classes the client sends (text frames).
    """

    _tables: ClassVar[tuple[str, str]] = ("server", "client")

    def __init__(self, name: str, *, server: Sequence[type], client: Sequence[type]) -> None:
        self.name = name
        self._server = _Table(server, "server", name)
        self._client = _Table(client, "client", name)

    @property
    def server_classes(self) -> tuple[type, ...]:
        """The classes of messages the server sends."""
        return self._server.classes

    @property
    def client_classes(self) -> tuple[type, ...]:
        """The classes of messages the client sends."""
        return self._client.classes

    def parse_server(self, frame: str | bytes) -> ServerT | UnknownMessage:
        """Decode a text frame sent by the server.

        Raises:
            MessageDecodeError: The frame is not JSON, not an object, or a known
                message type with fields of the wrong shape.
        """
        return _parse(frame, self._server.entries)  # type: ignore[no-any-return]

    def parse_client(self, frame: str | bytes) -> ClientT | UnknownMessage:
        """Decode a text frame sent by the client (used by :mod:`dgtrio.testing`)."""
        return _parse(frame, self._client.entries)  # type: ignore[no-any-return]

    @staticmethod
    def serialize(message: Any) -> str:
        """Encode a message of either direction as a JSON text frame."""
        return dumps(CONVERTER.unstructure(message))

    def __repr__(self) -> str:
        return f"<Schema {self.name}>"


def _parse(frame: str | bytes, entries: Mapping[str, tuple[Callable[[Any], Any], type]]) -> Any:
    try:
        obj = loads(frame)
    except (ValueError, RecursionError) as exc:
        raise MessageDecodeError("invalid JSON", raw=frame, errors=[str(exc)]) from None
    if obj.__class__ is not dict:
        raise MessageDecodeError(
            "expected a JSON object", raw=frame, errors=[f"got {_json_kind(obj)} @ $"]
        )
    tag = obj.get("type")
    entry = entries.get(tag) if tag.__class__ is str else None
    if entry is None:
        return UnknownMessage(tag if tag.__class__ is str else None, obj)
    fast, cls = entry
    try:
        return fast(obj)
    except Exception:
        pass
    try:
        result: Any = CONVERTER.structure(obj, cls)
    except Exception as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            errors = cattrs.transform_error(exc)
        else:  # pragma: no cover - cattrs wraps everything in detailed mode
            errors = [repr(exc)]
        raise MessageDecodeError(
            f"malformed {tag} message", raw=frame, errors=errors, message_type=tag
        ) from None
    logger.debug("dgtrio: fast decode of %s fell back to cattrs and succeeded", tag)
    return result
